"""Discovery against a simulated LAN on loopback: snmpsim printers at their own addresses, silent hosts
that drop packets, a non-printer, SNMPv3, a printer reachable under a second community."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from agent.network.known_devices import KnownDevices
from agent.network.scan import discover
from agent.network.sweep import SweepSettings
from agent.snmp.credentials import Credentials
from fleetmeter_contract.ranges import TargetError, TargetSet
from conftest import FIXTURES, ROOT
from peers import free_udp_port
from simulated_lan import SilentHosts, SimPrinter, SimPrinters

NET = "127.0.79"
RANGE = f"{NET}.1-14"
TIMEOUT, RETRIES = 1.0, 1  # generous: snmpsim shares 2 loaded cores with the other tests
V3 = Credentials(version="3", user="alice", auth_proto="SHA", auth_key="alice-auth-key",
                 priv_proto="AES", priv_key="alice-priv-key", context="public")
SWITCH = """1.3.6.1.2.1.1.1.0|4|Cisco IOS Software, C2960 Software (C2960-LANBASEK9-M)
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.9.1.716
1.3.6.1.2.1.1.5.0|4|core-switch
1.3.6.1.2.1.2.2.1.6.1|4x|001122334455
"""
# a Windows PC with SNMP on: its print queues are hrDevicePrinter rows, but it is no printer
WINDOWS = """1.3.6.1.2.1.1.1.0|4|Hardware: Intel64 Family 6 Model 158 - Software: Windows Version 6.3 (Build 19045)
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.311.1.1.3.1.1
1.3.6.1.2.1.25.3.2.1.2.1|6|1.3.6.1.2.1.25.3.1.5
1.3.6.1.2.1.25.3.2.1.3.1|4|Microsoft Print to PDF
"""


def expected(community: str) -> dict:
    from conftest import load_manifest

    return next(e["expected"] for e in load_manifest() if e["snmpsim_community"] == community)


@pytest.fixture(scope="module")
def lan(tmp_path_factory):
    work = tmp_path_factory.mktemp("lan")
    switch, windows = work / "switch.snmprec", work / "windows.snmprec"
    switch.write_text(SWITCH)
    windows.write_text(WINDOWS)
    printers = [
        SimPrinter(f"{NET}.2", FIXTURES / "ricoh_mpc3002.snmprec"),
        SimPrinter(f"{NET}.3", FIXTURES / "brother.snmprec"),
        SimPrinter(f"{NET}.4", FIXTURES / "konica_c250i.snmprec", community="private"),
        SimPrinter(f"{NET}.5", switch),
        SimPrinter(f"{NET}.6", FIXTURES / "utax.snmprec", v3_user=V3.user, v3_auth_key=V3.auth_key,
                   v3_priv_key=V3.priv_key),
        SimPrinter(f"{NET}.7", FIXTURES / "ricoh_mpc3002.snmprec", community="moved"),
        SimPrinter(f"{NET}.9", windows),
    ]
    port = free_udp_port(f"{NET}.1")
    sim = SimPrinters(printers, port, work / "sim")
    silent = SilentHosts([a for a in TargetSet.parse([RANGE]) if a not in {p.address for p in printers}], port)
    yield sim, silent
    sim.stop()
    silent.stop()


def run_discovery(lan, tmp_path, targets, credentials, exclude=()):
    sim, _silent = lan
    settings = SweepSettings(tuple(credentials), (sim.port,), TIMEOUT, RETRIES)
    store = KnownDevices(tmp_path / "known.sqlite")
    try:
        return asyncio.run(discover(TargetSet.parse(targets, exclude), settings, store))
    finally:
        store.close()


def by_address(result):
    return {d.address: d for d in result.devices}


def test_targets_cidr_ranges_hosts_and_exclusions():
    targets = TargetSet.parse(["10.0.0.0/30", "10.0.0.1-10.0.0.6", "10.0.1.10-12", "10.0.2.9"],
                              exclude=["10.0.0.4-5", "10.0.1.11"])
    assert list(targets) == ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.6", "10.0.1.10", "10.0.1.12",
                             "10.0.2.9"]
    assert len(targets) == 7
    assert "10.0.0.4" not in targets and "10.0.1.12" in targets
    for bad in ("10.0.0.9-3", "10.0.0.0/33", "999.1.1.1", "10.0.0.0/8,10.16.0.0/8"):
        with pytest.raises(TargetError):
            TargetSet.parse([bad])


def test_sweep_identifies_printers_non_printers_and_silent_hosts(lan, tmp_path):
    sim, silent = lan
    before = silent.received
    result = run_discovery(lan, tmp_path, [RANGE], [Credentials(community="public"),
                                                     Credentials(community="private")])
    found = by_address(result)
    assert set(found) == {f"{NET}.{n}" for n in (2, 3, 4, 5, 6, 9)}
    for address, community in ((f"{NET}.2", "ricoh_mpc3002"), (f"{NET}.3", "brother"),
                               (f"{NET}.4", "konica_c250i"), (f"{NET}.6", "utax")):
        device = found[address]
        assert device.is_printer, address
        assert device.identity.serial == expected(community)["serial"]
        assert device.identity.sys_object_id.lstrip(".") == expected(community)["sysObjectID"].lstrip(".")
    switch = found[f"{NET}.5"]
    assert not switch.is_printer and switch.printer_evidence is None
    assert switch.identity.sys_descr.startswith("Cisco IOS") and switch.identity.mac == "00:11:22:33:44:55"
    assert not found[f"{NET}.9"].is_printer  # a PC listing its print queues in hrDeviceTable
    # credential sets are tried in order and the first that answers is reported, never its secret
    assert found[f"{NET}.2"].credential == Credentials(community="public").describe()
    assert found[f"{NET}.4"].credential == Credentials(community="private").describe()
    assert "private" not in json.dumps(result.to_json())
    # each silent address cost exactly (retries + 1) packets per credential set, nothing more
    silent_count = len(TargetSet.parse([RANGE])) - 7
    assert silent.received - before == silent_count * (RETRIES + 1) * 2
    # the printer at .7 only knows "moved": it stayed silent to both sets
    assert result.stats["answered"] == 6


def test_same_device_through_two_credentials_and_overlapping_ranges_is_one_device(lan, tmp_path):
    result = run_discovery(lan, tmp_path, [f"{NET}.1-3", f"{NET}.2-7", f"{NET}.7"],
                           [Credentials(community="public"), Credentials(community="moved")])
    ricoh = [d for d in result.devices if d.identity.serial == expected("ricoh_mpc3002")["serial"]]
    assert len(ricoh) == 1
    assert ricoh[0].seen_at == [f"snmp {NET}.2:{lan[0].port}", f"snmp {NET}.7:{lan[0].port}"]
    assert result.stats["duplicates_merged"] == 1
    serials = [d.identity.serial for d in result.devices if d.identity.serial]
    assert len(serials) == len(set(serials))


def test_exclusions_are_never_probed(lan, tmp_path):
    sim, silent = lan
    before = silent.received
    result = run_discovery(lan, tmp_path, [RANGE], [Credentials(community="public")],
                           exclude=[f"{NET}.2", f"{NET}.8-14"])
    assert f"{NET}.2" not in by_address(result) and f"{NET}.3" in by_address(result)
    assert silent.received - before == 1 * (RETRIES + 1)  # only .1 of the silent ones


def test_snmpv3_first_then_communities(lan, tmp_path):
    wrong_user = Credentials(version="3", user="mallory", auth_proto="SHA", auth_key="not-the-key",
                             context="public")
    _sim, silent = lan
    before = silent.received
    result = run_discovery(lan, tmp_path, [f"{NET}.3", f"{NET}.6", f"{NET}.8"],
                           [wrong_user, V3, Credentials(community="public")])
    found = by_address(result)
    assert set(found) == {f"{NET}.3", f"{NET}.6"}
    # the silent .8: one engine-ID discovery (with its retry) for both v3 sets, then the community
    assert silent.received - before == 2 * (RETRIES + 1)
    assert found[f"{NET}.6"].credential == "v3 user alice (authPriv)"
    assert found[f"{NET}.6"].identity.serial == expected("utax")["serial"]
    # brother has no v3 users: both v3 sets are refused at once, then the community answers
    assert found[f"{NET}.3"].credential == Credentials(community="public").describe()


def cli(env, *args):
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


def test_cli_dhcp_move_keeps_identity_and_lists_devices_to_complete(lan, tmp_path, agent_env):
    sim, _silent = lan
    env = dict(agent_env, FLEETMETER_HOME=str(tmp_path / "home"))
    common = ["--port", str(sim.port), "--timeout", str(TIMEOUT), "--retries", str(RETRIES), "--json"]
    first = cli(env, "discover", f"{NET}.2", "--community", "public", *common)
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert [d["address"] for d in doc["devices"]] == [f"{NET}.2"]
    assert set(doc["devices"][0]) >= {"address", "port", "is_printer", "credential", "identity"}
    assert set(doc["devices"][0]["identity"]) == {"serial", "manufacturer", "model", "sys_descr",
                                                   "sys_object_id", "mac"}
    # the printer now answers at .7 (new DHCP lease; .2 is silent for this community)
    moved = json.loads(cli(env, "discover", f"{NET}.2", f"{NET}.7", "--community", "moved", *common).stdout)
    assert [d["address"] for d in moved["devices"]] == [f"{NET}.7"]
    assert moved["moved"] == {f"{NET}.7": f"{NET}.2"}
    assert moved["to_complete"] == []
    # a sweep that covers its address but does not reach it lists it as a device to complete
    gone = json.loads(cli(env, "discover", f"{NET}.7", "--community", "public", *common).stdout)
    assert gone["devices"] == []
    assert [(d["address"], d["serial"]) for d in gone["to_complete"]] == \
        [(f"{NET}.7", expected("ricoh_mpc3002")["serial"])]
    assert gone["to_complete"][0]["last_seen"]
    human = cli(env, "discover", f"{NET}.3", f"{NET}.7", "--community", "public", *common[:-1])
    assert human.returncode == 0 and "Devices to complete" in human.stdout and "Brother" in human.stdout


def test_cli_usage_errors_are_one_line(agent_env):
    bad = cli(agent_env, "discover", "10.0.0.9-3")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "ends before it starts" in bad.stderr
    bad = cli(agent_env, "discover", "127.0.0.1", "--snmp-version", "3")
    assert bad.returncode == 2 and "user name" in bad.stderr


# ---------------------------------------------------------------- other sources: mDNS, IPP, neighbours
IPP_ADDRESS = f"{NET}.20"  # outside RANGE: found only because mDNS announces it


@pytest.fixture(scope="module")
def ipp_printer():
    from pyipp.enums import IppTag

    from ipp_server import IppPrinter

    printer = IppPrinter(IPP_ADDRESS, [
        ("printer-device-id", "MFG:ACME;MDL:LaserPro 9000;CMD:PCL,PDF;SN:ACME0042;", IppTag.TEXT),
        ("printer-make-and-model", "ACME LaserPro 9000", IppTag.TEXT),
        ("printer-name", "laserpro", IppTag.NAME),
        ("printer-supply", ["index=1;class=supplyThatIsConsumed;type=tonerCartridge;unit=percent;"
                            "maxcapacity=100;level=40;colorantname=black;",
                            "index=2;class=receptacleThatIsFilled;type=wasteToner;unit=percent;"
                            "maxcapacity=100;level=95;"], IppTag.STRING),
        ("printer-supply-description", ["Black Toner Cartridge", "Waste Toner Box"], IppTag.TEXT),
        ("marker-names", ["Black Toner Cartridge"], IppTag.NAME),
        ("marker-levels", [40], IppTag.INTEGER),
        ("marker-types", ["toner-cartridge"], IppTag.KEYWORD),
    ])
    yield printer
    printer.stop()


@pytest.fixture(scope="module")
def announced(ipp_printer):
    """mDNS announcements on loopback only (zeroconf bound to 127.0.0.1)."""
    import socket

    from zeroconf import IPVersion, ServiceInfo, Zeroconf

    zeroconf = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    services = [
        ServiceInfo("_ipp._tcp.local.", "ACME LaserPro 9000._ipp._tcp.local.",
                    addresses=[socket.inet_aton(IPP_ADDRESS)], port=ipp_printer.port,
                    properties={"rp": "ipp/print", "ty": "ACME LaserPro 9000"}, server="laserpro.local."),
        ServiceInfo("_pdl-datastream._tcp.local.", "Brother MFC-L2710DW._pdl-datastream._tcp.local.",
                    addresses=[socket.inet_aton(f"{NET}.3")], port=9100,
                    properties={"ty": "Brother MFC-L2710DW series"}, server="brother.local."),
    ]
    for service in services:
        zeroconf.register_service(service)
    yield services
    zeroconf.close()


def test_mdns_ipp_and_neighbours_find_what_the_sweep_misses(lan, tmp_path, ipp_printer, announced):
    from agent.network.scan import OtherSources

    sim, _silent = lan
    neighbours = {IPP_ADDRESS: "02:00:00:00:00:20", f"{NET}.2": "02:00:00:00:00:02", f"{NET}.4": "02:00:00:00:00:04"}
    settings = SweepSettings((Credentials(community="public"),), (sim.port,), TIMEOUT, RETRIES)
    store = KnownDevices(tmp_path / "known.sqlite")
    try:
        result = asyncio.run(discover(
            TargetSet.parse([f"{NET}.3"], exclude=[f"{NET}.4"]), settings, store,
            sources=OtherSources(2.0, ("127.0.0.1",), neighbours)))
    finally:
        store.close()
    found = by_address(result)
    # .2 comes from the neighbour table; .4 is a neighbour too but excluded: never probed
    assert set(found) == {f"{NET}.2", f"{NET}.3", IPP_ADDRESS}
    assert found[f"{NET}.2"].identity.serial == expected("ricoh_mpc3002")["serial"]
    brother = found[f"{NET}.3"]
    assert brother.source == "snmp" and brother.names == ["Brother MFC-L2710DW._pdl-datastream._tcp.local."]
    assert f"mdns {NET}.3:9100" in brother.seen_at
    acme = found[IPP_ADDRESS]
    assert (acme.source, acme.is_printer, acme.identity.serial, acme.identity.manufacturer, acme.identity.model) == \
        ("ipp", True, "ACME0042", "ACME", "LaserPro 9000")
    assert acme.identity.mac == "02:00:00:00:00:20"  # from the neighbour table
    toner, waste = acme.supplies
    assert (toner.type, toner.color, toner.percent, toner.state) == ("toner", "black", 40.0, "ok")
    assert (waste.type, waste.class_, waste.state) == ("waste_toner", "receptacle", "near_full")
    assert "printer-supply" in ipp_printer.requests[-1]["operation-attributes"]["requested-attributes"]
    assert result.stats["mdns_services"] == 2 and result.stats["ipp_read"] == 1
    assert result.stats["duplicates_merged"] == 2  # brother: SNMP + mDNS; ACME: IPP + mDNS


def test_neighbour_table_formats():
    from agent.network.neighbours import parse_arp_a, parse_ip_neigh, parse_proc_arp, read_neighbours

    proc = ("IP address       HW type     Flags       HW address            Mask     Device\n"
            "192.168.1.20     0x1         0x2         00:26:73:54:e2:6a     *        eth0\n"
            "192.168.1.21     0x1         0x0         00:00:00:00:00:00     *        eth0\n")
    assert parse_proc_arp(proc) == {"192.168.1.20": "00:26:73:54:e2:6a"}
    neigh = ("192.168.1.20 dev eth0 lladdr 00:26:73:54:e2:6a REACHABLE\n"
             "192.168.1.22 dev eth0 lladdr 3c:2a:f4:bf:f5:1b STALE\n"
             "192.168.1.23 dev eth0  FAILED\n")
    assert parse_ip_neigh(neigh) == {"192.168.1.20": "00:26:73:54:e2:6a", "192.168.1.22": "3c:2a:f4:bf:f5:1b"}
    windows = ("Interface: 192.168.1.5 --- 0xb\n  Internet Address      Physical Address      Type\n"
               "  192.168.1.20          00-26-73-54-e2-6a     dynamic\n"
               "  192.168.1.255         ff-ff-ff-ff-ff-ff     static\n")
    assert parse_arp_a(windows) == {"192.168.1.20": "00:26:73:54:e2:6a"}
    assert parse_arp_a("? (192.168.1.20) at 0:26:73:54:e2:6a on en0 ifscope [ethernet]") == \
        {"192.168.1.20": "00:26:73:54:e2:6a"}
    assert isinstance(read_neighbours(), dict)  # this machine's own table reads without error


def test_snmpv1_only_set_and_the_order_of_sets_from_the_command_line(lan, tmp_path):
    from agent.cli import build_parser
    from agent.commands.snmp_options import credential_sets_from_args

    args = build_parser().parse_args(["discover", "10.0.0.0/24", "--community", "a", "--community", "b",
                                      "--snmp-version", "1", "--snmp-version", "2c", "--v3-user", "u"])
    assert [(c.version, c.community if c.version != "3" else c.user) for c in credential_sets_from_args(args)] == \
        [("3", "u"), ("2c", "a"), ("2c", "b"), ("1", "a"), ("1", "b")]

    def sets(*argv):
        return [c.describe() for c in credential_sets_from_args(build_parser().parse_args(["discover", "x", *argv]))]

    assert sets() == [Credentials(community="public").describe()]
    assert sets("--v3-user", "u") == ["v3 user u (noAuthNoPriv)"]
    assert sets("--v3-user", "u", "--community", "c") == \
        ["v3 user u (noAuthNoPriv)", Credentials(community="c").describe()]
    result = run_discovery(lan, tmp_path, [f"{NET}.3"], [Credentials(version="1", community="public")])
    brother = by_address(result)[f"{NET}.3"]
    assert brother.credential.startswith("v1 community") and brother.is_printer
    assert brother.identity.serial == expected("brother")["serial"]


def test_known_devices_keys_serial_then_mac_then_address(tmp_path):
    from agent.network.devices import Found
    from fleetmeter_contract.reading import Identity

    store = KnownDevices(tmp_path / "known.sqlite")
    try:
        mac = "aa:bb:cc:00:00:01"
        first, _ = store.record(Found("10.0.0.5", 161, "snmp", True, identity=Identity(serial="S1", mac=mac)))
        # the MAC alone recognises the device before its serial is readable, and after a move
        again, moved = store.record(Found("10.0.0.9", 161, "snmp", True, identity=Identity(mac="AA:BB:CC:00:00:01")))
        assert (again, moved) == (first, "10.0.0.5")
        # another serial behind the same MAC (a print server, a swapped board) is another device
        other, _ = store.record(Found("10.0.0.9", 161, "snmp", True, identity=Identity(serial="S2", mac=mac)))
        assert other != first
        # no serial, no MAC: the address and port are all there is
        bare, _ = store.record(Found("10.0.0.7", 161, "snmp", False))
        assert store.record(Found("10.0.0.7", 161, "snmp", False))[0] == bare
        rows = {d.id: d for d in store.all()}
        assert rows[first].serial == "S1" and rows[first].mac is None and rows[other].mac == mac
        assert [d.serial for d in store.to_complete(TargetSet.parse(["10.0.0.0/24"]), {other, bare})] == ["S1"]
    finally:
        store.close()


def test_cli_progress_on_a_terminal_only_and_repeatable_ports(lan, tmp_path, agent_env):
    import os
    import pty

    sim, _silent = lan
    env = dict(agent_env, FLEETMETER_HOME=str(tmp_path / "home"))
    other_port = free_udp_port(f"{NET}.3")  # nothing listens there
    master, slave = pty.openpty()
    done = subprocess.run([sys.executable, "-m", "agent.cli", "discover", f"{NET}.2-3", "--port", str(sim.port),
                           "--port", str(other_port), "--timeout", str(TIMEOUT), "--retries", "0", "--json"],
                          stdout=subprocess.PIPE, stderr=slave, env=env, cwd=ROOT, timeout=120, text=True)
    os.close(slave)
    progress = os.read(master, 65536).decode()
    os.close(master)
    assert done.returncode == 0
    doc = json.loads(done.stdout)  # stdout stays one JSON document
    assert doc["stats"]["targets"] == 4 and doc["stats"]["settings"]["ports"] == [sim.port, other_port]
    assert [d["address"] for d in doc["devices"]] == [f"{NET}.2", f"{NET}.3"]
    assert "scanned 4/4" in progress and "printers 2" in progress
    # not a terminal: no progress at all
    quiet = cli(env, "discover", f"{NET}.3", "--port", str(sim.port), "--timeout", str(TIMEOUT), "--json")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_the_service_keeps_its_targets_in_the_same_store(tmp_path):
    """One known-devices store: the service's inspection targets survive a restart, follow their
    credential when the list is reordered, and wait for discovery when their credential is gone."""
    from agent.snmp.credentials import Credentials
    from agent.snmp.fleet import Target

    first, second, third = (Credentials(community=c) for c in ("alpha", "beta", "gamma"))
    store = KnownDevices(tmp_path / "known.sqlite")
    targets = [Target("10.0.0.5", 161, second), Target("10.0.0.6", 1161, first)]
    store.save(targets + [Target("10.0.0.7", 161, Credentials(community="unlisted"))], [first, second])
    store.close()
    again = KnownDevices(tmp_path / "known.sqlite")
    assert again.load([first, second]) == targets
    assert again.load([third, second, first]) == targets, "reordered: each keeps its credential"
    assert again.load([first]) == targets[1:], "a removed credential's devices wait for discovery"
    assert again.all() == [], "targets are not identities: the devices table is discovery's"
