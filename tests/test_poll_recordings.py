"""Every shared printer recording, served by snmpsim over UDP, read by the agent: the facts in
manifest.json (serial, model, firmware, total meter, supplies, status) must come out of the reading.
A fact the manifest does not know is a skipped case with its reason, never a silent pass; expected
values come from the manifest or from the recording's raw lines, never from the rules under test."""

from __future__ import annotations

import pytest

from conftest import FIXTURES, load_manifest
from snmp_helpers import poll

SNMPREC = [e for e in load_manifest() if e["file"].endswith(".snmprec")]
WITH_RESULTS = [e for e in SNMPREC if e["expected_results_kind"] == "librenms-module-json"]
HR_DEVICE_STATUS = {1: "unknown", 2: "running", 3: "warning", 4: "testing", 5: "down"}
ERROR_STATE_NAMES = {0: []}  # LibreNMS "Normal" = no bit set


def ids(entries):
    return [e["snmpsim_community"] for e in entries]


@pytest.fixture(scope="module")
def readings(snmpsim):
    """One poll per recording, shared by the tests of this module."""
    return {e["snmpsim_community"]: poll(snmpsim, e["snmpsim_community"], timeout=0.5) for e in SNMPREC}


def listed(value) -> list:
    """Manifest lists are the string "unknown" when the source gives none."""
    return value if isinstance(value, list) else []


def known(value) -> bool:
    return value not in (None, "unknown")


IDENTITY_FACTS = (("sys_descr", "sysDescr"), ("sys_object_id", "sysObjectID"), ("serial", "serial"),
                  ("model", "model"), ("firmware", "firmware_version"))
IDENTITY_CASES = [(e, field, key) for e in SNMPREC for field, key in IDENTITY_FACTS]


@pytest.mark.parametrize("entry, field, key", IDENTITY_CASES,
                         ids=[f"{e['snmpsim_community']}-{field}" for e, field, _k in IDENTITY_CASES])
def test_identity_fact(entry, field, key, readings):
    """Each identity fact the manifest knows comes out of the reading; an unknown one is a skip, not a pass."""
    expected = entry["expected"].get(key)
    reading = readings[entry["snmpsim_community"]]
    if key == "serial" and expected == "unknown" and "SN:AAA0A00000" in (entry["expected"].get("sysDescr") or ""):
        assert reading.identity.serial is None, "a placeholder serial is not a serial"
        return
    if not known(expected):
        pytest.skip(f"the manifest does not know {key} for {entry['snmpsim_community']}")
    want = {"sysDescr": lambda v: v.strip(), "sysObjectID": lambda v: v.lstrip(".")}.get(key, lambda v: v)
    assert getattr(reading.identity, field) == want(expected)


@pytest.mark.parametrize("entry", SNMPREC, ids=ids(SNMPREC))
def test_manufacturer_names_the_vendor(entry, readings):
    reading = readings[entry["snmpsim_community"]]
    vendor = entry["vendor"].split(" (")[0]
    assert reading.identity.manufacturer is not None
    assert vendor.lower() in reading.identity.manufacturer.lower() or \
        reading.identity.manufacturer.lower() in vendor.lower()


COUNTER_ENTRIES = [e for e in WITH_RESULTS if e.get("walk_readout", {}).get("prtMarker_counters")]


@pytest.mark.parametrize("entry", COUNTER_ENTRIES, ids=ids(COUNTER_ENTRIES))
def test_total_meter(entry, readings):
    reading = readings[entry["snmpsim_community"]]
    counters = entry["walk_readout"]["prtMarker_counters"]
    first = counters[0]
    assert reading.counters["total"] == first["prtMarkerLifeCount"]
    assert reading.counter_sources["total"].oid == first["prtMarkerLifeCount_oid"].lstrip(".")
    assert reading.counter_sources["total"].origin == "rfc3805"
    markers = {(m.device_index, m.index): m for m in reading.markers}
    for row in counters:
        device, index = (int(x) for x in row["index"].split("."))
        assert markers[(device, index)].life_count == row["prtMarkerLifeCount"]
        if "prtMarkerPowerOnCount" in row:
            assert markers[(device, index)].power_on_count == row["prtMarkerPowerOnCount"]


# RFC 3805 level codes and what the reading must say for them (DESIGN.md), keyed by the raw value
SPECIAL_LEVELS = {-1: "other", -2: "unknown", -3: "some_remaining"}


SUPPLY_ENTRIES = [e for e in WITH_RESULTS if e.get("walk_readout", {}).get("prtMarkerSupplies")]


@pytest.mark.parametrize("entry", SUPPLY_ENTRIES, ids=ids(SUPPLY_ENTRIES))
def test_every_supply_raw_and_derived(entry, readings):
    """Raw level and capacity as the recording holds them; percent as LibreNMS (the recording's source)
    computed it from the same raw values; the RFC 3805 level codes as their states."""
    reading = readings[entry["snmpsim_community"]]
    by_index = {f"{s.device_index}.{s.index}": s for s in reading.supplies}
    rows = entry["walk_readout"]["prtMarkerSupplies"]
    assert sorted(by_index) == sorted(r["index"] for r in rows)
    librenms = {s["index"]: s for s in listed(entry["expected"]["supplies"]) if s["type"] != "input"}
    for row in rows:
        supply = by_index[row["index"]]
        assert supply.level == row.get("level_raw")
        assert supply.max_capacity == row.get("max_capacity_raw")
        if "type" in row:
            waste = row["type"] in ("wasteToner", "wasteInk", "wasteWater", "wastePaper", "wasteWax")
            assert (supply.class_ == "receptacle") == waste
        level, maximum = row.get("level_raw"), row.get("max_capacity_raw")
        if supply.quirk is None and level in SPECIAL_LEVELS:
            assert (supply.state, supply.percent) == (SPECIAL_LEVELS[level], None)
        theirs = librenms.get(int(row["index"].split(".")[1]))
        if level is not None and maximum is not None and level >= 0 and maximum > 0 and theirs \
                and supply.quirk is None:  # quirks (e.g. Ricoh's free-space waste level): test_vendor_profiles
            assert abs(supply.percent - theirs["level_percent_librenms"]) <= 0.5 + 1e-9, (row, theirs)
        if level == 0 and supply.quirk is None and supply.class_ == "consumed":
            assert supply.state == "empty"
        # descriptions arrive clean: no NULs, no hex dumps, no line breaks
        assert supply.description and "\x00" not in supply.description and "\n" not in supply.description
        if theirs and theirs.get("descr"):
            assert supply.description.replace(" ", "") == theirs["descr"].replace(" ", "")


@pytest.mark.parametrize("entry", WITH_RESULTS, ids=ids(WITH_RESULTS))
def test_trays_match_input_rows(entry, readings):
    reading = readings[entry["snmpsim_community"]]
    inputs = [s for s in listed(entry["expected"].get("supplies")) if s["type"] == "input"]
    if not inputs:
        pytest.skip(f"the manifest lists no input tray for {entry['snmpsim_community']}")
    trays = {t.index: t for t in reading.trays}
    for tray in inputs:
        assert trays[tray["index"]].level == tray["level_raw_in_walk"]
        assert trays[tray["index"]].max_capacity == tray["max_capacity_raw_in_walk"]


@pytest.mark.parametrize("entry", WITH_RESULTS, ids=ids(WITH_RESULTS))
def test_decoded_status(entry, readings):
    reading = readings[entry["snmpsim_community"]]
    sensors = [s for s in listed(entry["expected"].get("status_sensors"))
               if s["state_name"] in ("hrDeviceStatus", "hrPrinterDetectedErrorState")]
    if not sensors:
        pytest.skip(f"the manifest has no hrDeviceStatus or error-state sensor for {entry['snmpsim_community']}")
    for sensor in sensors:
        if sensor["state_name"] == "hrDeviceStatus":
            assert reading.status.device == HR_DEVICE_STATUS[sensor["value"]]
        elif sensor["state_name"] == "hrPrinterDetectedErrorState":
            if sensor["state_descr"] == "Normal":
                assert reading.status.errors == []
            else:
                assert reading.status.errors, sensor


PRINTER_EVIDENCE = ("1.3.6.1.2.1.43.10.2.1.4.", "1.3.6.1.2.1.43.11.1.1.9.")  # prtMarkerLifeCount, prtSuppliesLevel


def recorded_as_printer(entry) -> bool:
    """What the recording itself holds: an hrDeviceType row of hrDevicePrinter, or Printer-MIB markers or
    supplies (the raw lines of the file, not the reading)."""
    for line in (FIXTURES / entry["file"]).read_text(errors="replace").splitlines():
        oid, _tag, value = (line.split("|", 2) + ["", ""])[:3]
        if oid.startswith("1.3.6.1.2.1.25.3.2.1.2.") and value.strip().lstrip(".") == "1.3.6.1.2.1.25.3.1.5":
            return True
        if oid.startswith(PRINTER_EVIDENCE):
            return True
    return False


@pytest.mark.parametrize("entry", SNMPREC, ids=ids(SNMPREC))
def test_is_printer_follows_the_recording(entry, readings):
    reading = readings[entry["snmpsim_community"]]
    assert reading.is_printer == recorded_as_printer(entry)
