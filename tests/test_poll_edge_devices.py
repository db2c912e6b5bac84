"""Devices the shared recordings do not cover: garbage values, two printer sub-devices, a non-printer,
the glpi-agent walk (system group only), the full Printer-MIB tables of the demo printers."""

from __future__ import annotations

import pytest

from conftest import DEMO_DEVICES, ROOT, recorded
from snmp_helpers import poll

RECORDINGS = ROOT / "tests" / "recordings"


def test_garbage_values_become_null_with_warnings(local_sim):
    reading = poll(local_sim, "garbage-values")
    doc = reading.to_json()  # serialises: nothing non-JSON leaked through
    assert reading.is_printer
    assert reading.identity.sys_object_id is None and reading.identity.uptime_s is None
    assert reading.identity.mac == "00:11:22:33:44:55", "a MAC sent as text is still a MAC"
    assert reading.identity.serial is None, "an all-zero serial is no serial"
    assert reading.counters["total"] is None
    marker = reading.markers[0]
    assert marker.life_count is None and marker.power_on_count is None and marker.counter_unit is None
    supplies = {s.index: s for s in reading.supplies}
    assert supplies[1].level is None and supplies[1].state == "unknown" and supplies[1].description is None
    assert supplies[2].level == -100 and supplies[2].percent is None and supplies[2].state == "unknown"
    assert supplies[2].description and "\x00" not in supplies[2].description
    assert supplies[3].percent == 100.0, "a level above the maximum is clamped"
    assert reading.status.device is None and reading.status.printer is None
    assert reading.status.errors == ["lowToner"]  # bitmap sent as INTEGER 8192 = octets 20 00 = bit 2
    assert reading.alerts[0].severity is None and reading.alerts[0].description is None
    joined = " | ".join(doc["warnings"])
    for where in ("sysObjectID", "sysUpTime", "supply 1.1 level", "prtMarker.1.1 life count",
                  "alert 1.1 severity", "hrDeviceStatus"):
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
    assert reading.is_printer is False
    assert reading.identity.sys_descr == recorded(RECORDINGS / "network-switch.snmprec", "1.3.6.1.2.1.1.1.0")
    assert reading.identity.mac == "02:a0:c9:00:00:01"
    assert reading.supplies == [] and reading.counters["total"] is None


def test_glpi_walk_system_group_only(local_sim):
    reading = poll(local_sim, "glpi-sample2")
    assert reading.identity.sys_descr.startswith("RICOH Aficio MP 171")
    assert reading.identity.sys_object_id == "1.3.6.1.4.1.367.1.1"
    assert reading.identity.manufacturer == "Ricoh"
    assert reading.identity.model == "Aficio MP 171" and reading.identity.firmware == "1.00.1"
    assert reading.identity.contact is None, "an empty sysContact is unknown, not an empty string"


def test_full_printer_mib_tables(local_sim):
    reading = poll(local_sim, "demo-color-mfp")
    path = DEMO_DEVICES / "demo-color-mfp.snmprec"
    by_description = {s.description: s for s in reading.supplies}
    cyan = by_description["Cyan Toner Cartridge FM-450C"]
    assert (cyan.color, cyan.unit, cyan.class_, cyan.state) == ("cyan", "percent", "consumed", "low")
    magenta = by_description["Magenta Toner Cartridge FM-450M"]
    assert magenta.percent is None and magenta.state == "some_remaining"
    waste = by_description["Waste Toner Box"]
    assert waste.class_ == "receptacle" and waste.state == "near_full" and waste.percent == 92.0
    assert by_description["Drum Unit"].type == "drum" and by_description["Drum Unit"].unit == "impressions"
    assert by_description["Maintenance Kit"].type == "maintenance_kit"
    assert by_description["Fuser Unit"].state == "unknown"
    assert reading.status.errors == ["lowToner"] and reading.status.printer == "idle"
    assert reading.status.device == "warning"
    codes = [a.code for a in reading.alerts]
    assert codes == ["markerTonerAlmostEmpty", "markerWasteTonerReceptacleAlmostFull"]
    assert all(a.severity == "warning" and a.group == "markerSupplies" for a in reading.alerts)
    assert [t.media for t in reading.trays] == [recorded(path, f"1.3.6.1.2.1.43.8.2.1.12.1.{i}") for i in (1, 2, 3)]
    assert reading.trays[0].type == "sheet_feed_manual"
    assert reading.identity.uptime_s == int(recorded(path, "1.3.6.1.2.1.1.3.0")) // 100
    assert reading.stats.pdus <= 4


@pytest.mark.parametrize("community", ["demo-color-mfp", "demo-mono-laser"])
def test_pdu_budget(local_sim, community):
    """Whole inventory of a typical printer in at most 4 request PDUs (snmpsim answers 64 varbinds max)."""
    assert poll(local_sim, community).stats.pdus <= 4
