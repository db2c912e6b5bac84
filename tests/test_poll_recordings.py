"""Every shared printer recording, served by snmpsim over UDP, read by the agent: the facts in
manifest.json (serial, model, firmware, total meter, supplies, status) must come out of the reading."""

from __future__ import annotations

import pytest

from conftest import load_manifest
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


@pytest.mark.parametrize("entry", SNMPREC, ids=ids(SNMPREC))
def test_system_identity_and_manufacturer(entry, readings):
    reading = readings[entry["snmpsim_community"]]
    expected = entry["expected"]
    if known(expected.get("sysDescr")):
        assert reading.identity.sys_descr == expected["sysDescr"].strip()
    if known(expected.get("sysObjectID")):
        assert reading.identity.sys_object_id == expected["sysObjectID"].lstrip(".")
    assert reading.identity.sys_descr, "every recording has a sysDescr"
    vendor = entry["vendor"].split(" (")[0]
    assert reading.identity.manufacturer is not None
    assert vendor.lower() in reading.identity.manufacturer.lower() or \
        reading.identity.manufacturer.lower() in vendor.lower()


@pytest.mark.parametrize("entry", SNMPREC, ids=ids(SNMPREC))
def test_serial_model_firmware(entry, readings):
    reading = readings[entry["snmpsim_community"]]
    expected = entry["expected"]
    for field, key in (("serial", "serial"), ("model", "model"), ("firmware", "firmware_version")):
        if known(expected.get(key)):
            assert getattr(reading.identity, field) == expected[key], field
    if expected.get("serial") == "unknown" and "SN:AAA0A00000" in (expected.get("sysDescr") or ""):
        assert reading.identity.serial is None, "a placeholder serial is not a serial"


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


def expected_percent(level: int, maximum: int) -> float | None:
    if level < 0 or maximum <= 0:
        return None
    return round(min(100.0, max(0.0, level * 100.0 / maximum)), 1)


def expected_state(level: int, maximum: int, receptacle: bool) -> str:
    special = {-1: "other", -2: "unknown", -3: "some_remaining"}
    if level in special:
        return special[level]
    percent = expected_percent(level, maximum)
    if receptacle:
        return "unknown" if percent is None else ("full" if percent >= 100 else
                                                   "near_full" if percent >= 90 else "ok")
    if level == 0:
        return "empty"
    if percent is None:
        return "some_remaining"
    return "low" if percent <= 10 else "ok"


SUPPLY_ENTRIES = [e for e in WITH_RESULTS if e.get("walk_readout", {}).get("prtMarkerSupplies")]


@pytest.mark.parametrize("entry", SUPPLY_ENTRIES, ids=ids(SUPPLY_ENTRIES))
def test_every_supply_raw_and_derived(entry, readings):
    reading = readings[entry["snmpsim_community"]]
    by_index = {f"{s.device_index}.{s.index}": s for s in reading.supplies}
    rows = entry["walk_readout"]["prtMarkerSupplies"]
    assert sorted(by_index) == sorted(r["index"] for r in rows)
    for row in rows:
        supply = by_index[row["index"]]
        assert supply.level == row.get("level_raw")
        assert supply.max_capacity == row.get("max_capacity_raw")
        receptacle = row.get("type") in ("wasteToner", "wasteInk", "wasteWater", "wastePaper", "wasteWax")
        if "type" in row:
            assert (supply.class_ == "receptacle") == receptacle
        else:  # the recording lacks the type column: the description decides
            receptacle = supply.class_ == "receptacle"
        if row.get("level_raw") is not None and row.get("max_capacity_raw") is not None \
                and supply.quirk is None:  # vendor quirks are checked in test_vendor_quirks.py
            assert supply.percent == expected_percent(row["level_raw"], row["max_capacity_raw"])
            assert supply.state == expected_state(row["level_raw"], row["max_capacity_raw"], receptacle)
        # descriptions arrive clean: no NULs, no hex dumps, no line breaks
        assert supply.description and "\x00" not in supply.description and "\n" not in supply.description
        expected_descr = next((s["descr"] for s in listed(entry["expected"]["supplies"])
                               if s["type"] != "input" and s["index"] == int(row["index"].split(".")[1])), None)
        if expected_descr:
            assert supply.description.replace(" ", "") == expected_descr.replace(" ", "")


@pytest.mark.parametrize("entry", WITH_RESULTS, ids=ids(WITH_RESULTS))
def test_trays_match_input_rows(entry, readings):
    reading = readings[entry["snmpsim_community"]]
    inputs = [s for s in listed(entry["expected"].get("supplies")) if s["type"] == "input"]
    trays = {t.index: t for t in reading.trays}
    for tray in inputs:
        assert trays[tray["index"]].level == tray["level_raw_in_walk"]
        assert trays[tray["index"]].max_capacity == tray["max_capacity_raw_in_walk"]


@pytest.mark.parametrize("entry", WITH_RESULTS, ids=ids(WITH_RESULTS))
def test_decoded_status(entry, readings):
    reading = readings[entry["snmpsim_community"]]
    for sensor in listed(entry["expected"].get("status_sensors")):
        if sensor["state_name"] == "hrDeviceStatus":
            assert reading.status.device == HR_DEVICE_STATUS[sensor["value"]]
        elif sensor["state_name"] == "hrPrinterDetectedErrorState":
            if sensor["state_descr"] == "Normal":
                assert reading.status.errors == []
            else:
                assert reading.status.errors, sensor
    assert reading.is_printer == (entry["expected"].get("device_type") == "printer"
                                  and bool(reading.supplies or reading.markers or reading.status.device))
