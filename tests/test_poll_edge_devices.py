"""Devices the shared recordings do not cover: garbage values, two printer sub-devices, a non-printer,
the glpi-agent walk (system group only), the full Printer-MIB tables of the demo printers.

Expected values are read from the recordings (`recorded`) or the manifest, never copied in here; the
only literals are standard names (RFC 3805 alert codes, enumerations)."""

from __future__ import annotations

import pytest

from conftest import DEMO_DEVICES, RECORDINGS, load_manifest, recorded
from fleetmeter_contract.reading import MAX_COUNT, MAX_TEXT, validate_wire
from snmp_helpers import poll

# RFC 3805 PrtAlertCodeTC names of the codes the demo printer raises
ALERT_CODES = {1104: "markerTonerAlmostEmpty", 1107: "markerWasteTonerReceptacleAlmostFull"}


def mac_of(hex_text: str) -> str:
    return ":".join(hex_text[i:i + 2] for i in range(0, 12, 2))


def test_garbage_values_become_null_with_warnings(local_sim):
    reading = poll(local_sim, "garbage-values")
    path = RECORDINGS / "garbage-values.snmprec"
    doc = reading.to_json()  # serialises: nothing non-JSON leaked through
    assert reading.is_printer
    assert reading.identity.sys_object_id is None and reading.identity.uptime_s is None
    assert reading.identity.mac == recorded(path, "1.3.6.1.2.1.2.2.1.6.2").lower(), "a MAC sent as text is a MAC"
    assert reading.identity.serial is None, "an all-zero serial is no serial"
    location = recorded(path, "1.3.6.1.2.1.1.6.0")
    assert len(location) > MAX_TEXT and reading.identity.location == location[:MAX_TEXT].rstrip(), \
        "text longer than the reading allows is cut, not a failed reading"
    assert reading.counters["total"] is None
    marker = reading.markers[0]
    assert marker.life_count is None and marker.power_on_count is None and marker.counter_unit is None
    # a Counter64 beyond the reading's bound: null with a warning, and the reading still goes on the wire
    assert int(recorded(path, "1.3.6.1.2.1.43.10.2.1.4.1.2")) > MAX_COUNT
    assert reading.markers[1].life_count is None
    assert validate_wire(reading.dumps()).markers[1].life_count is None
    supplies = {s.index: s for s in reading.supplies}
    assert supplies[1].level is None and supplies[1].state == "unknown" and supplies[1].description is None
    assert supplies[2].level == int(recorded(path, "1.3.6.1.2.1.43.11.1.1.9.1.2"))
    assert supplies[2].percent is None and supplies[2].state == "unknown"
    assert supplies[2].description and "\x00" not in supplies[2].description
    assert supplies[3].percent == 100.0, "a level above the maximum is clamped"
    assert reading.status.device is None and reading.status.printer is None
    assert reading.status.errors == ["lowToner"]  # bitmap sent as INTEGER 8192 = octets 20 00 = bit 2
    assert reading.alerts[0].severity is None and reading.alerts[0].description is None
    joined = " | ".join(doc["warnings"])
    for where in ("sysObjectID", "sysUpTime", "sysLocation", "supply 1.1 level", "prtMarker.1.1 life count",
                  "prtMarker.1.2 life count", "alert 1.1 severity", "hrDeviceStatus"):
        assert where in joined, where


def test_every_printer_sub_device_is_read(local_sim):
    reading = poll(local_sim, "two-engines")
    path = RECORDINGS / "two-engines.snmprec"
    assert {(s.device_index, s.index) for s in reading.supplies} == {(1, 1), (1, 2), (2, 1)}
    assert {(m.device_index, m.life_count) for m in reading.markers} == {
        (1, int(recorded(path, "1.3.6.1.2.1.43.10.2.1.4.1.1"))),
        (2, int(recorded(path, "1.3.6.1.2.1.43.10.2.1.4.2.1")))}
    waste = next(s for s in reading.supplies if s.type == "waste_toner")
    assert waste.class_ == "receptacle" and waste.state == "full"
    assert reading.counter_sources["total"].oid == "1.3.6.1.2.1.43.10.2.1.4.1.1"


def test_a_switch_is_not_a_printer(local_sim):
    reading = poll(local_sim, "network-switch")
    path = RECORDINGS / "network-switch.snmprec"
    assert reading.is_printer is False
    assert reading.identity.sys_descr == recorded(path, "1.3.6.1.2.1.1.1.0")
    assert reading.identity.mac == mac_of(recorded(path, "1.3.6.1.2.1.2.2.1.6.1")), "the first interface's MAC"
    assert reading.supplies == [] and reading.counters["total"] is None


def test_glpi_walk_system_group_only(local_sim):
    [entry] = [e for e in load_manifest() if e["file"] == "glpi-agent/sample2.walk"]
    expected = entry["expected"]
    reading = poll(local_sim, "glpi-sample2")
    assert reading.identity.sys_descr == expected["sysDescr"]
    assert reading.identity.sys_name == expected["sysName"] and reading.identity.location == expected["location"]
    assert reading.identity.manufacturer == expected["manufacturer"]
    # the Ricoh profile reads model and firmware out of "RICOH <model> <firmware> / ..."
    assert expected["sysDescr"].startswith(f"RICOH {reading.identity.model} {reading.identity.firmware} /")
    assert reading.identity.contact is None, "an empty sysContact is unknown, not an empty string"


def test_full_printer_mib_tables(local_sim):
    reading = poll(local_sim, "demo-color-mfp")
    path = DEMO_DEVICES / "demo-color-mfp.snmprec"

    def raw(column: int, index: int) -> str:
        return recorded(path, f"1.3.6.1.2.1.43.11.1.1.{column}.1.{index}")

    supplies = {s.index: s for s in reading.supplies}
    for index, supply in supplies.items():
        assert supply.description == raw(6, index)
        assert (supply.level, supply.max_capacity) == (int(raw(9, index)), int(raw(8, index)))
        colorant = int(raw(3, index))
        if colorant > 0:
            assert supply.color == recorded(path, f"1.3.6.1.2.1.43.12.1.1.4.1.{colorant}")
    by_type = {s.type: s for s in reading.supplies if s.type != "toner"}
    toners = [s for s in reading.supplies if s.type == "toner"]
    assert {s.unit for s in toners} == {"percent"} and {s.class_ for s in toners} == {"consumed"}
    assert {s.state for s in toners if s.level == -3} == {"some_remaining"}
    lowest = min((s for s in toners if s.level >= 0), key=lambda s: s.level)
    assert lowest.state == "low" and lowest.percent == 100 * lowest.level / lowest.max_capacity
    waste = by_type["waste_toner"]
    assert waste.class_ == "receptacle" and waste.state == "near_full"
    assert waste.percent == 100 * waste.level / waste.max_capacity
    assert by_type["drum"].unit == "impressions" and by_type["fuser"].state == "unknown"
    assert "maintenance_kit" in by_type
    assert reading.status.errors == ["lowToner"] and reading.status.printer == "idle"
    assert reading.status.device == "warning"
    codes = [int(recorded(path, f"1.3.6.1.2.1.43.18.1.1.7.1.{i}")) for i in (1, 2)]
    assert [a.code for a in reading.alerts] == [ALERT_CODES[c] for c in codes]
    assert all(a.severity == "warning" and a.group == "markerSupplies" for a in reading.alerts)
    assert [t.media for t in reading.trays] == [recorded(path, f"1.3.6.1.2.1.43.8.2.1.12.1.{i}") for i in (1, 2, 3)]
    assert reading.trays[0].type == "sheet_feed_manual"
    assert reading.identity.uptime_s == int(recorded(path, "1.3.6.1.2.1.1.3.0")) // 100
    assert reading.stats.pdus <= 4


@pytest.mark.parametrize("community", ["demo-color-mfp", "demo-mono-laser"])
def test_pdu_budget(local_sim, community):
    """Whole inventory of a typical printer in at most 4 request PDUs (snmpsim answers 64 varbinds max)."""
    assert poll(local_sim, community).stats.pdus <= 4
