"""The printer simulator read by the agent over UDP on loopback, checked against the simulator's own
device state (not literals): identity, meters, supplies, replacements, alerts, walk order (against
net-snmp), and silence for a wrong community."""

from __future__ import annotations

import math
import shutil
import socket
import subprocess

import pytest

from agent.snmp import ber
from agent.snmp.client import SnmpError
from fleetmeter_sim.mibview import ALERT_TABLE
from sim_peer import SimFleet
from snmp_helpers import poll

MONO, COLOR, COARSE = 0, 1, 2  # plan_fleet gives the first devices one of each model, in models.toml order
SYS_DESCR = "1.3.6.1.2.1.1.1.0"


@pytest.fixture()
def fleet():
    sim = SimFleet(3)
    yield sim
    sim.stop()


def read(fleet: SimFleet, i: int, community: str = "public"):
    return poll(fleet.endpoint(i), community, timeout=1.0)


def snapshot(fleet: SimFleet, i: int):
    return fleet.states[i].at(fleet.clock.now)  # time has not moved: the state the poll saw


def test_identity_meters_and_supplies_are_the_state(fleet):
    assert [d.model.name for d in fleet.devices] == ["demo-mono-laser", "demo-color-mfp", "demo-mono-coarse"]
    for i, device in enumerate(fleet.devices):
        reading = read(fleet, i)
        snap = snapshot(fleet, i)
        assert reading.is_printer
        assert reading.identity.serial == device.serial and reading.identity.sys_name == device.name
        assert reading.identity.sys_descr == device.model.value(SYS_DESCR).decode()
        assert reading.identity.mac == device.mac.hex(":")
        assert reading.counters["total"] == snap.counters["total"]
        if device.model.color:
            assert (reading.counters["mono"], reading.counters["color"]) == (snap.counters["mono"], snap.counters["color"])
            assert snap.counters["color"] > 0
        by_index = {s.index: s for s in reading.supplies}
        assert set(by_index) == {s.index for s in device.model.supplies}
        for spec in device.model.supplies:
            got, left = by_index[spec.index], snap.supplies[spec.index]
            if spec.report == "percent" and spec.max_capacity == 100 and not spec.receptacle:
                assert got.level == math.ceil(left)
            elif spec.report == "percent" and not spec.receptacle:
                assert got.level == math.ceil(left * spec.max_capacity / 100)
            elif spec.report.startswith("step:"):
                step = int(spec.report[5:])
                assert got.level % step == 0 and left <= got.level < left + step
            elif spec.report == "unknown":
                assert got.level == -2 and got.state == "unknown"


def test_meters_rise_and_supplies_fall_with_simulated_time(fleet):
    before, snap0 = read(fleet, MONO), snapshot(fleet, MONO)
    fleet.clock.advance(days=3)  # Monday to Thursday: working days
    after, snap1 = read(fleet, MONO), snapshot(fleet, MONO)
    assert after.counters["total"] == snap1.counters["total"] > before.counters["total"] == snap0.counters["total"]
    state = fleet.states[MONO]
    pages = after.counters["total"] - before.counters["total"]
    assert pages == pytest.approx(state.working_day_rate * 3 * 86400, rel=0.01)
    toner = {s.index: s for s in before.supplies}[1], {s.index: s for s in after.supplies}[1]
    if snap1.replacements[1] == snap0.replacements[1]:
        assert toner[1].level < toner[0].level
    assert after.identity.uptime_s - before.identity.uptime_s == 3 * 86400


def test_a_supply_that_runs_out_raises_alerts_and_is_replaced(fleet):
    """Low, then empty (with its alert and hrPrinterDetectedErrorState bit), then replaced: level back up,
    alert gone. The simulated clock moves an hour at a time; the agent reads the device at each change."""
    state, toner = fleet.states[MONO], 1

    def until(predicate, limit_days=400):
        for _ in range(limit_days * 24):
            snap = state.at(fleet.clock.advance(hours=1))
            if predicate(snap):
                return snap
        pytest.fail("the simulated supply never got there")

    def alerts_of(reading):
        return {(a.group_index, a.code) for a in reading.alerts}

    replaced = snapshot(fleet, MONO).replacements[toner]
    until(lambda s: not s.alerts)  # start from a fresh cartridge's state
    low = until(lambda s: any(a.supply == toner and a.kind == "low" for a in s.alerts))
    reading = read(fleet, MONO)
    assert (toner, "markerTonerAlmostEmpty") in alerts_of(reading)
    assert "lowToner" in reading.status.errors and reading.status.device == "warning"
    assert {s.index: s for s in reading.supplies}[toner].state == "low"
    assert low.supplies[toner] <= 10

    until(lambda s: s.supplies[toner] == 0)
    reading = read(fleet, MONO)
    assert (toner, "markerTonerEmpty") in alerts_of(reading)
    assert (toner, "markerTonerAlmostEmpty") not in alerts_of(reading)
    empty_alert = next(a for a in reading.alerts if a.code == "markerTonerEmpty")
    assert empty_alert.severity == "critical"
    assert "noToner" in reading.status.errors and reading.status.device == "down"
    assert {s.index: s for s in reading.supplies}[toner].level == 0

    new = until(lambda s: s.replacements[toner] > replaced)
    reading = read(fleet, MONO)
    assert {s.index: s for s in reading.supplies}[toner].level == math.ceil(new.supplies[toner]) >= 99
    assert not any(a.group_index == toner for a in reading.alerts)
    assert "noToner" not in reading.status.errors


def numeric(oid: str) -> tuple[int, ...]:
    return tuple(int(x) for x in oid.strip(".").split("."))


def expected_oids(fleet: SimFleet, i: int) -> list[str]:
    """The device file's OIDs (its static alert rows replaced by the state's alerts), in numeric order."""
    model, snap = fleet.devices[i].model, snapshot(fleet, i)
    oids = [r.oid for r in model.rows if not r.oid.startswith(ALERT_TABLE + ".")]
    oids += [f"{ALERT_TABLE}.{column}.1.{a.index}" for a in snap.alerts for column in range(2, 10)]
    return sorted(oids, key=numeric)


def net_snmp(tool: str, *args: str) -> list[str]:
    if shutil.which(tool) is None:
        pytest.skip(f"net-snmp {tool} not installed (Debian package snmp)")
    out = subprocess.run([tool, "-On", "-Oq", "-t", "1", "-r", "1", *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [line.split(" ", 1)[0].lstrip(".") for line in out.stdout.splitlines()
            if line.startswith(".") and "No more variables" not in line]  # net-snmp shows the endOfMibView


def test_walk_order_matches_net_snmp(fleet):
    fleet.clock.advance(days=20)  # some alerts on some devices, the alert rows in the walk
    snapshots = [fleet.states[i].at(fleet.clock.now) for i in range(3)]
    assert any(s.alerts for s in snapshots), "no alerts: the walk would not cover the dynamic rows"
    for i in range(3):
        target = f"{fleet.devices[i].host}:{fleet.devices[i].port}"
        expected = expected_oids(fleet, i)
        assert net_snmp("snmpbulkwalk", "-v2c", "-c", "public", "-Cr7", target, ".1") == expected
        assert net_snmp("snmpwalk", "-v1", "-c", "public", target, ".1") == expected  # GETNEXT
        # a walk of one table starting inside it
        supplies = [o for o in expected if o.startswith("1.3.6.1.2.1.43.11.1.1.")]
        assert net_snmp("snmpbulkwalk", "-v2c", "-c", "public", "-Cr3", target, "1.3.6.1.2.1.43.11.1.1") == supplies


def test_get_of_a_missing_object_and_the_end_of_the_mib(fleet):
    target = f"{fleet.devices[MONO].host}:{fleet.devices[MONO].port}"
    out = subprocess.run(["snmpget", "-v2c", "-c", "public", "-On", target, "1.3.6.1.2.1.1.1.0",
                          "1.3.6.1.2.1.1.9.0", "1.3.6.1.2.1.43.11.1.1.9.1.99", "1.3.6.1.2.1.43.18"],
                         capture_output=True, text=True)
    lines = out.stdout.splitlines()
    assert "No Such Object" in lines[1] and "No Such Instance" in lines[2] and "No Such Object" in lines[3]
    assert fleet.devices[MONO].model.value(SYS_DESCR).decode() in lines[0]


def test_a_wrong_community_gets_no_answer(fleet):
    with pytest.raises(SnmpError):
        read(fleet, MONO, community="private")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        device = fleet.devices[COLOR]
        sock.sendto(ber.encode_request("2c", "private", ber.GET, 1, [SYS_DESCR]), (device.host, device.port))
        with pytest.raises(TimeoutError):
            sock.recv(2048)
        sock.sendto(b"\x30\x03\x02\x01", (device.host, device.port))  # not a message at all
        with pytest.raises(TimeoutError):
            sock.recv(2048)
        sock.sendto(ber.encode_request("2c", "public", ber.GET, 2, [SYS_DESCR]), (device.host, device.port))
        assert ber.decode_response(sock.recv(2048))[5][0][2] == device.model.value(SYS_DESCR)
    assert fleet.counts.refused >= 2 and fleet.counts.malformed == 1
