"""Vendor profiles: meters (with provenance and precedence), supply quirks and PWG counters, read from
the shared recordings (expected values from their manifest) and the project's made-up recordings
(tests/recordings/manifest.json)."""

from __future__ import annotations

import json

import pytest

from agent.printer.profile import ProfileError, parse_meters, parse_supply_quirks
from conftest import RECORDINGS, load_manifest
from snmp_helpers import poll

# LibreNMS sensor labels of the manifest -> our meter names. Labels not listed (jam counts,
# document-filing counts, power-on counts) are not billing meters.
LABEL_METER = {
    "Life time impressions": "total", "Life time sheets": "total", "Total page cnt": "total",
    "Total Mono cnt": "mono", "Total Duplex cnt": "duplex", "Lifetime scanned": "scan",
    "Total copy black": "copy_mono", "Total copy color": "copy_color",
    "Total print black": "print_mono", "Total print color": "print_color",
    "Total print duplex": "duplex", "Total scans": "scan",
    "Black & White Print Count": "print_mono", "Full Color Print Count": "print_color",
    "Black & White Copy Count": "copy_mono", "Full Color Copy Count": "copy_color",
    "Black & White Total Count": "mono", "Full Color Total Count": "color", "Duplex": "duplex",
    "Scan to E-mail/FTP": "scan", "Printed Length (life, INCHES)": "print_length",
}
WITH_METERS = [e for e in load_manifest()
               if isinstance(e["expected"].get("page_counters"), list) and e["expected"]["page_counters"]]
OWN = json.loads((RECORDINGS / "manifest.json").read_text())["entries"]


@pytest.fixture(scope="module")
def shared_readings(snmpsim):
    return {e["snmpsim_community"]: poll(snmpsim, e["snmpsim_community"], timeout=1.0) for e in WITH_METERS}


@pytest.fixture(scope="module")
def own_readings(local_sim):
    return {name: poll(local_sim, name, timeout=2.0) for name in OWN}


@pytest.mark.parametrize("entry", WITH_METERS, ids=[e["snmpsim_community"] for e in WITH_METERS])
def test_manifest_meters_with_their_oids(entry, shared_readings):
    reading = shared_readings[entry["snmpsim_community"]]
    checked = 0
    for counter in entry["expected"]["page_counters"]:
        meter = LABEL_METER.get(counter["descr"])
        if meter is None:
            continue
        checked += 1
        assert reading.counters[meter] == counter["value"], counter["descr"]
        source = reading.counter_sources[meter]
        if source.origin != "rfc3805":  # a standard counter outranks the vendor's equal one
            assert source.oid == counter["oid"].lstrip("."), counter["descr"]
            assert source.origin == f"vendor:{reading.profile}"
    assert checked, "the manifest names at least one billing meter for this recording"
    assert not [w for w in reading.warnings if w.startswith("counter ")], reading.warnings


def test_zebra_length_meter_has_its_unit(shared_readings):
    source = shared_readings["zebra"].counter_sources["print_length"]
    assert source.unit == "inches"


@pytest.mark.parametrize("name", sorted(OWN))
def test_made_up_recordings(name, own_readings):
    reading, expected = own_readings[name], OWN[name]
    for field, value in expected.get("identity", {}).items():
        assert getattr(reading.identity, field) == value, field
    for meter, want in expected.get("counters", {}).items():
        assert reading.counters[meter] == want["value"], meter
        assert reading.counter_sources[meter].origin == want["origin"], meter
        if "oid" in want:
            assert reading.counter_sources[meter].oid == want["oid"], meter
    supplies = {str(s.index): s for s in reading.supplies}
    for index, want in expected.get("supplies", {}).items():
        supply = supplies[index]
        for field in ("level", "max_capacity", "percent", "state", "description", "part_number", "serial"):
            if field in want:
                assert getattr(supply, field) == want[field], (index, field)
        if "class" in want:
            assert supply.class_ == want["class"]
        assert (supply.quirk is not None) == want["quirk"], (index, supply.quirk)
        if supply.quirk:
            assert supply.quirk.startswith(f"{reading.profile}:"), "a quirk names the profile it came from"
    counter_warnings = [w for w in reading.warnings if w.startswith("counter ")]
    for text in expected.get("warnings_mention", []):
        assert any(text in w for w in counter_warnings), counter_warnings
    if expected.get("no_counter_warnings"):
        assert not counter_warnings


def test_pwg_probe_costs_no_request_on_devices_without_it(own_readings):
    """The PWG key column rides in the first GETBULK: a device without it answers in 2 requests."""
    assert own_readings["kyocera_taskalfa"].stats.pdus == 2


@pytest.mark.parametrize("table, message", [
    ({"total": 5}, "expected a source string"),
    ({"Total": "1.3.6.1.4.1.1.0"}, "lower_snake_case"),
    ({"mono": {"sum": ["1.3.6.1.4.1.1.0"], "source": "1.3.6.1.4.1.2.0"}}, "exactly one of"),
    ({"mono": "sysDescr"}, "numeric OID"),
    ({"mono": "kcprtTotal"}, "neither a numeric OID"),
    ({"mono": "1.3.6.1.4.1.1.0 ~ ("}, "bad regex"),
])
def test_bad_meter_definitions_are_named(table, message):
    with pytest.raises(ProfileError, match=message):
        parse_meters(table, "x.toml counters")


def test_bad_supply_quirk_is_named():
    with pytest.raises(ProfileError, match="bad supply quirk"):
        parse_supply_quirks({"level_codes": [{"state": "low"}]}, "x", "x.toml supplies")


def test_ricoh_waste_bottle_counts_free_space(snmpsim):
    """The real Ricoh recording: the waste bottle reports free space (RFC 3805's wording), so a
    level equal to its capacity is an empty bottle, not a full one; the raw values stay visible."""
    entry = next(e for e in load_manifest() if e["snmpsim_community"] == "ricoh_mpc3002")
    reading = poll(snmpsim, "ricoh_mpc3002", timeout=1.0)
    supplies = {f"{s.device_index}.{s.index}": s for s in reading.supplies}
    rows = [r for r in entry["walk_readout"]["prtMarkerSupplies"] if r.get("type") == "wasteToner"]
    assert rows
    for row in rows:
        supply = supplies[row["index"]]
        level, capacity = row["level_raw"], row["max_capacity_raw"]
        assert (supply.level, supply.max_capacity) == (level, capacity)
        assert supply.class_ == "receptacle"
        assert supply.percent == round(100.0 * (capacity - level) / capacity, 1)
        assert supply.state == ("ok" if supply.percent < 90 else "near_full" if supply.percent < 100 else "full")
        assert supply.quirk and supply.quirk.startswith("ricoh:")
