"""Vendor profiles: meters (with provenance and precedence), supply quirks and PWG counters, read from
the shared recordings (expected values from their manifest) and the project's made-up recordings
(tests/recordings/manifest.json)."""

from __future__ import annotations

import json

import pytest

from agent.printer.profile import PROFILE_DIR, ProfileError, load_profile, parse_meters
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
        for field in ("type", "color", "level", "max_capacity", "percent", "state", "description", "part_number",
                      "serial"):
            if field in want:
                assert getattr(supply, field) == want[field], (index, field)
        if "class" in want:
            assert supply.class_ == want["class"]
        assert (supply.quirk is not None) == want["quirk"], (index, supply.quirk)
        if supply.quirk:
            assert supply.quirk.startswith(f"{reading.profile}:"), "a quirk names the profile it came from"
    for index in expected.get("replaced", []):  # Printer-MIB rows a vendor record stands for
        assert index not in supplies, index
    if "is_printer" in expected:
        assert reading.is_printer == expected["is_printer"]
    counter_warnings = [w for w in reading.warnings if w.startswith("counter ")]
    for text in expected.get("warnings_mention", []):
        assert any(text in w for w in counter_warnings), counter_warnings
    if expected.get("no_counter_warnings"):
        assert not counter_warnings


def _recorded_records(name: str, oid: str) -> dict[int, int]:
    """{code: value} of a record string in the recording, decoded here from Brother's documented format
    (7-byte records <code> 0x01 0x04 <4-byte big-endian value>, ended by 0xFF), not by the agent's decoder."""
    line = next(l for l in (RECORDINGS / f"{name}.snmprec").read_text().splitlines() if l.startswith(oid + "|"))
    data = bytes.fromhex(line.split("|")[2])
    assert data[-1] == 0xFF and (len(data) - 1) % 7 == 0, "the recording follows the documented format"
    return {data[i]: int.from_bytes(data[i + 3:i + 7], "big") for i in range(0, len(data) - 1, 7)
            if data[i + 1:i + 3] == b"\x01\x04"}


@pytest.mark.parametrize("name", sorted(n for n in OWN if "pages_remaining" in OWN[n]))
def test_remaining_pages_records_land_on_their_supplies(name, own_readings):
    """Brother's remaining-pages block: each record's value becomes `pages_remaining` of the supply the
    manifest names; supplies without a record keep null (unknown), and the wire document carries it."""
    expected = OWN[name]["pages_remaining"]
    recorded = _recorded_records(name, expected["block"])
    supplies = {str(s.index): s for s in own_readings[name].supplies}
    for index, code in expected["supplies"].items():
        want = None if code is None else recorded[int(code, 16)]
        assert supplies[index].pages_remaining == want, (index, code)
        assert supplies[index].to_json()["pages_remaining"] == want


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


BROTHER = (PROFILE_DIR / "brother.toml").read_text()


@pytest.mark.parametrize("change, message", [
    (lambda t: t.replace("[identity]", "[identiy]"), "brother.toml: identiy: unknown key"),
    (lambda t: t.replace("pages_of = 0x6b", "pages_of = 0x6e"), "brother.toml: (top level): record 0x73: pages_of 0x6e is no supply"),
    (lambda t: t.replace("enterprises =", "enterprize ="), "brother.toml: match.enterprize: unknown key"),
    (lambda t: t.replace('manufacturer = "Brother"', 'manufacturer = "Brother"\nmodel_prefix = ["x"]'),
     "brother.toml: model_prefix: unknown key"),
    (lambda t: t.replace('printer_object_ids = ["1.3.6.1.4.1.2435.2.3.9"]', 'printer_object_ids = ["1.3.6.1.4.1..2435"]'),
     "brother.toml: discovery.printer_object_ids.0: '1.3.6.1.4.1..2435' is not a numeric OID"),
    (lambda t: t.replace('serial = ["1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.1.0"', 'serial = ["1.3.6.1.4.1.2435.x"'),
     "brother.toml identity.serial: '1.3.6.1.4.1.2435.x' is neither a numeric OID"),
    (lambda t: t.replace('state = "low"', 'state = "lo"', 1), "brother.toml: supplies.level_codes.1.state: Input should be"),
    (lambda t: t.replace('{ level = 1,', '{ lvl = 1,', 1), "brother.toml: supplies.level_codes.1.level: required key missing"),
    (lambda t: t.replace("manufacturer = \"Brother\"\n", "", 1), "brother.toml: manufacturer: required key missing"),
    (lambda t: t.replace('code = 0x41, type = "drum"', 'code = 0x41, type = "drum", meter = "x"', 1),
     "brother.toml: record_blocks.0.records"),
    (lambda t: t.replace('serial = ["1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.1.0"', 'serial = ["NO-SUCH-MIB::nothing.0"'),
     "brother.toml identity.serial: MIB module NO-SUCH-MIB not found"),
])
def test_profile_mistakes_fail_with_file_key_and_reason(change, message, tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETMETER_HOME", str(tmp_path / "home"))
    changed = change(BROTHER)
    assert changed != BROTHER, "the mistake was not introduced"
    path = tmp_path / "brother.toml"
    path.write_text(changed)
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert message in str(caught.value) and "\n" not in str(caught.value), str(caught.value)


def test_every_shipped_profile_passes_its_schema():
    from agent.printer.profile import all_profiles

    assert {p.name for p in all_profiles()} == {p.stem for p in PROFILE_DIR.glob("*.toml")}


def test_a_profile_may_name_oids_by_mib_symbol(tmp_path, monkeypatch):
    """Symbols are compiled with pysmi from the project's mibs/ (as meters.toml's are) when loaded."""
    monkeypatch.setenv("FLEETMETER_HOME", str(tmp_path / "home"))
    path = tmp_path / "acme.toml"
    path.write_text('manufacturer = "ACME"\n[identity]\nserial = ["SNMPv2-MIB::sysDescr.0"]\n'
                    '[counters]\ntotal = "PWG-IMAGING-COUNTER-MIB::icImpressionTotalImps.1.3.3"\n')
    profile = load_profile(path)
    assert profile.identity["serial"][0].oid == "1.3.6.1.2.1.1.1.0"  # RFC 3418 sysDescr.0
    assert profile.counters[0].oids == ["1.3.6.1.4.1.2699.1.3.1.8.1.1.4.1.3.3"]  # PWG 5106.3 icImpressionTotalImps


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


def test_discovery_knows_a_brother_by_its_device_id_alone(local_sim):
    """sysDescr "Network Print Server" and a foreign sysObjectID: brInfoModel (read in the probe itself)
    makes it a Brother printer."""
    import asyncio

    from agent.network.sweep import Sweep, SweepSettings
    from agent.snmp.client import SnmpClient
    from agent.snmp.credentials import Credentials

    name = "brother_print_server"
    settings = SweepSettings(credentials=(Credentials(community=name),), ports=(local_sim.port,), timeout=2.0,
                             retries=1, concurrency=1)

    async def sweep():
        client = SnmpClient()
        try:
            return await Sweep(client, settings).run([local_sim.host], 1)
        finally:
            client.close()

    [found] = asyncio.run(sweep())
    assert found.is_printer and found.printer_evidence == "profile brother"
    for field, value in OWN[name]["identity"].items():
        assert getattr(found.identity, field) == value, field
