"""Supply, status and value decoding on edge values, and property tests: any value of any SNMP type
fed to any decoder becomes a value or null plus a warning, never an exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.printer import supplies as supply_rules
from agent.printer.counters import Candidate, choose
from agent.snmp import status as status_rules
from agent.snmp.values import Warnings, as_count, as_int, as_mac, as_oid, as_text, enum_name
from fleetmeter_contract.reading import MAX_COUNT, CounterSource, DeviceReading


@pytest.mark.parametrize("level, maximum, receptacle, percent, state", [
    (40, 100, False, 40.0, "ok"),
    (10, 100, False, 10.0, "low"),
    (0, 100, False, 0.0, "empty"),
    (0, -2, False, None, "empty"),
    (5, -2, False, None, "some_remaining"),
    (-1, 100, False, None, "other"),
    (-2, 100, False, None, "unknown"),
    (-3, 100, False, None, "some_remaining"),
    (-100, 100, False, None, "unknown"),
    (150, 100, False, 100.0, "ok"),
    (11501, 12000, False, 95.8, "ok"),
    (7, 0, False, None, "some_remaining"),
    (None, 100, False, None, "unknown"),
    (92, 100, True, 92.0, "near_full"),
    (100, 100, True, 100.0, "full"),
    (0, 100, True, 0.0, "ok"),
    (-3, -2, True, None, "some_remaining"),
])
def test_level_rules(level, maximum, receptacle, percent, state):
    assert supply_rules.level_percent(level, maximum) == percent
    assert supply_rules.level_state(level, maximum, receptacle) == state


@pytest.mark.parametrize("type_code, description, kind", [
    (3, "Black Toner", "toner"),
    (21, "Toner Cartridge", "toner"),
    (9, "Imaging Drum", "drum"),
    (4, "Waste Toner Box", "waste_toner"),
    (3, "Resttonerbehälter", "waste_toner"),  # toner-typed waste bottle
    (1, "Maintenance Kit", "maintenance_kit"),
    (1, "Wartungseinheit", "maintenance_kit"),
    (1, "Fixiereinheit", "fuser"),
    (20, "ITB", "transfer"),
    (None, "Transfer Belt", "transfer"),
    (32, "Stapler 1", "staples"),
    (None, "Trommel", "drum"),
    (None, "Cartouche d'encre noire", "ink"),
    (None, "Cartouche de toner noir", "toner"),
    (2, None, "other"),
    (None, None, "other"),
])
def test_supply_type(type_code, description, kind):
    assert supply_rules.supply_type(type_code, description) == kind


@pytest.mark.parametrize("text, color", [
    ("Black Toner", "black"), ("Toner Schwarz", "black"), ("Cartouche noire", "black"),
    ("Toner nero", "black"), ("Tóner negro", "black"), ("トナー ブラック", "black"), ("Toner (K)", "black"),
    ("Cyan Toner", "cyan"), ("Toner Cian", "cyan"), ("Magenta Cartridge", "magenta"),
    ("Yellow Toner", "yellow"), ("Toner Gelb", "yellow"), ("Cartouche jaune", "yellow"),
    ("Toner giallo", "yellow"), ("Light Cyan Ink", "light_cyan"), ("Photo Black", "photo_black"),
    ("Matte Black", "matte_black"), ("Drum Unit", None), ("Kit", None), ("", None), (None, None),
])
def test_color_from_text(text, color):
    assert supply_rules.color_from_text(text) == color


def test_colorant_table_wins_over_description():
    supply = supply_rules.build_supply(supply_rules.RawSupply(
        device_index=1, index=1, description="Toner Cartridge 1", type_code=3, level=50, max_capacity=100,
        colorant="magenta"))
    assert supply.color == "magenta"


@pytest.mark.parametrize("vendor, description, part", [
    ("HP", "Black Cartridge HP CF217A", "CF217A"),
    ("KYOCERA", "Toner Kit TK-5240K", "TK-5240K"),
    ("Samsung", "Black Toner MLT-D111S", "MLT-D111S"),
    ("HP", "Black Toner", None),
    ("HP", "Toner Kit TK-5240K", None),  # another vendor's pattern is not this vendor's part number
])
def test_part_numbers_come_from_the_vendor_profile(vendor, description, part):
    from agent.printer.profile import select_profile

    quirks = select_profile(None, f"{vendor} printer").supply_quirks
    supply = supply_rules.build_supply(supply_rules.RawSupply(1, 1, description=description, type_code=3), quirks)
    assert supply.part_number == part


@pytest.mark.parametrize("raw, errors", [
    (b"\x00", []),
    (b"\x20\x00", ["lowToner"]),
    (b"\x80", ["lowPaper"]),
    (b"\x01\x02", ["serviceRequested", "overduePreventMaint"]),
    (b"\xff\xfe", list(status_rules.DETECTED_ERROR_BITS)),
    (b"\x00\x01", ["bit15"]),
    (4096, ["noToner"]),
    (None, []),
])
def test_detected_error_bits(raw, errors):
    assert status_rules.detected_errors(raw, "e", Warnings()) == errors


def test_text_decoding():
    w = Warnings()
    assert as_text(b"Black Toner\x00\x00", "x", w) == "Black Toner"
    assert as_text(b"  padded  ", "x", w) == "padded"
    assert as_text(b"", "x", w) is None
    assert as_text(b"Schwarz \xe4", "x", w) == "Schwarz ä"  # Latin-1 fallback
    assert as_text(b"Gr\xc3\xbcn", "x", w) == "Grün"
    dump = b"Black Cartridge \n38 32 37 41 20 48 50 20 43 46 33 30 30 41 00 "
    assert as_text(dump, "x", w, hex_dump=True) == "Black Cartridge 827A HP CF300A"
    assert as_text(b"426C61636B20546F6E6572", "x", w, hex_dump=True) == "Black Toner"
    assert as_text(b"A4", "x", w, hex_dump=True) == "A4", "short media names are not hex"
    assert as_text(b"DEADBEEF12", "x", w) == "DEADBEEF12", "serials are never hex-decoded"
    assert w == []


def test_mac_and_oid():
    assert as_mac(b"\x00\x26\x73\x54\xe2\x6a") == "00:26:73:54:e2:6a"
    assert as_mac(b"\x00" * 6) is None and as_mac(b"\x01\x02") is None
    assert as_mac("00-26-73-54-E2-6A") == "00:26:73:54:e2:6a"
    w = Warnings()
    assert as_oid("1.3.6.1.4.1.367.1.1", "x", w) == "1.3.6.1.4.1.367.1.1"
    assert as_oid(b"nope", "x", w) is None and len(w) == 1


snmp_values = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.binary(max_size=64),
    st.text(max_size=40), st.from_regex(r"\A\d+(\.\d+){0,12}\Z", fullmatch=True))


@settings(max_examples=300, deadline=None)
@given(raw=snmp_values)
def test_value_decoders_never_raise(raw):
    w = Warnings()
    assert as_int(raw, "x", w) is None or isinstance(as_int(raw, "x", w), int)
    count = as_count(raw, "x", w)
    assert count is None or 0 <= count <= MAX_COUNT  # what the reading model accepts
    text = as_text(raw, "x", w, hex_dump=True)
    assert text is None or (text == text.strip() and "\x00" not in text and text)
    as_text(raw, "x", w)
    as_oid(raw, "x", w)
    as_mac(raw)
    enum_name(raw, status_rules.ALERT_CODE, "x", w)
    assert isinstance(status_rules.detected_errors(raw, "x", w), list)
    assert all(isinstance(m, str) for m in w)


def test_a_counter_beyond_the_reading_bound_is_warned_not_chosen():
    """Every transport's candidates pass counter precedence; one the server would refuse is dropped there."""
    pjl = CounterSource(oid="@PJL INFO PAGECOUNT", origin="pjl")
    ipp = CounterSource(oid="printer-impressions-completed", origin="ipp")
    warnings: list[str] = []
    counters, sources = choose([Candidate("total", MAX_COUNT + 1, pjl), Candidate("total", 1234, ipp)], warnings)
    assert counters["total"] == 1234 and sources["total"] == ipp
    assert len(warnings) == 1 and "@PJL INFO PAGECOUNT" in warnings[0] and "not used" in warnings[0]
    counters, _ = choose([Candidate("total", MAX_COUNT, pjl)], warnings)
    assert counters["total"] == MAX_COUNT and len(warnings) == 1


@settings(max_examples=300, deadline=None)
@given(level=snmp_values, maximum=snmp_values, kind=snmp_values, klass=snmp_values, unit=snmp_values,
       description=snmp_values, colorant=snmp_values)
def test_supply_rules_never_raise(level, maximum, kind, klass, unit, description, colorant):
    w = Warnings()
    raw = supply_rules.RawSupply(
        device_index=1, index=1, description=as_text(description, "d", w, hex_dump=True),
        type_code=as_int(kind, "t", w), class_code=as_int(klass, "c", w), unit_code=as_int(unit, "u", w),
        max_capacity=as_int(maximum, "m", w), level=as_int(level, "l", w), colorant=as_text(colorant, "c", w))
    supply = supply_rules.build_supply(raw)
    assert supply.percent is None or 0.0 <= supply.percent <= 100.0
    assert supply.state in ("ok", "low", "empty", "unknown", "other", "some_remaining", "near_full", "full")
    reading = DeviceReading(address="127.0.0.1", port=161, supplies=[supply], warnings=list(w))
    json.dumps(reading.to_json())


def test_credentials_never_show_their_secrets():
    from agent.snmp.credentials import Credentials

    community = Credentials(community="c0mmunity-secret")
    v3 = Credentials(version="3", user="fleet", auth_key="auth-secret-1", priv_key="priv-secret-1")
    for credentials, secrets in ((community, ["c0mmunity-secret"]), (v3, ["auth-secret-1", "priv-secret-1"])):
        shown = repr(credentials) + str(credentials) + credentials.describe()
        assert not any(secret in shown for secret in secrets)
