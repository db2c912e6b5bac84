"""`record` and `walk` against snmpsim: a recording replays through snmpsim and polls to the same
reading (scrubbed fields apart); walk prints MIB names from the compiled MIBs."""

from __future__ import annotations

import ipaddress
import json
import re

import pytest

from agent.cli import main
from conftest import FIXTURES, RECORDINGS
from conftest import recorded as recorded_value
from peers import Simulator
from snmp_helpers import poll

ROUND_TRIP = ("ricoh_mpc3002", "sharp", "jetdirect_m130nw", "konica_c250i")
VOLATILE = ("collected_at", "stats", "address", "port")
SCRUBBED_IDENTITY = ("sys_name", "location", "contact", "mac")


@pytest.fixture(scope="module")
def recorded(snmpsim, tmp_path_factory, monkeypatch_module):
    """Each shared device recorded twice (scrubbed, and raw as <name>-raw), then served by a new snmpsim."""
    out = tmp_path_factory.mktemp("recorded")
    for name in ROUND_TRIP:
        for suffix, extra in (("", []), ("-raw", ["--no-scrub"])):
            code = main(["record", snmpsim.host, "--port", str(snmpsim.port), "--community", name,
                         "--timeout", "2", "-o", str(out / f"{name}{suffix}.snmprec"), *extra])
            assert code == 0
    replay = Simulator(out, tmp_path_factory.mktemp("snmpsim-replay"))
    yield out, replay
    replay.stop()


@pytest.fixture(scope="module")
def monkeypatch_module(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("FLEETMETER_HOME", str(tmp_path_factory.mktemp("home")))
    yield mp
    mp.undo()


def comparable(reading) -> dict:
    doc = reading.to_json()
    for key in VOLATILE:
        doc.pop(key)
    return doc


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_raw_recording_replays_to_the_same_reading(name, snmpsim, recorded):
    _out, replay = recorded
    assert comparable(poll(replay, f"{name}-raw", timeout=2)) == comparable(poll(snmpsim, name, timeout=2))


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_scrubbed_recording_differs_only_in_scrubbed_fields(name, snmpsim, recorded):
    out, replay = recorded
    original, replayed = comparable(poll(snmpsim, name, timeout=2)), comparable(poll(replay, name, timeout=2))
    for field in SCRUBBED_IDENTITY:
        original["identity"].pop(field)
        assert replayed["identity"].pop(field) in ("<scrubbed>", None) or field == "mac"
    assert replayed == original
    assert poll(replay, name, timeout=2).identity.mac in (None, "02:00:00:00:00:01")


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_scrubbed_file_holds_no_address_of_the_original(name, recorded):
    out, _replay = recorded
    text = (out / f"{name}.snmprec").read_text()
    original = (FIXTURES / f"{name}.snmprec").read_text()
    macs = {v.lower() for v in re.findall(r"^1\.3\.6\.1\.2\.1\.2\.2\.1\.6\.\d+\|4x\|([0-9A-Fa-f]{12})$", original, re.M)}
    ips = set(re.findall(r"^[\d.]+\|64\|(\d+\.\d+\.\d+\.\d+)$", original, re.M))
    ips |= set(re.findall(r"^1\.3\.6\.1\.2\.1\.4\.20\.1\.1\.(\d+\.\d+\.\d+\.\d+)\|", original, re.M))
    personal = {ip for ip in ips if not (ipaddress.ip_address(ip).is_multicast or is_netmask(ip)
                                         or ip.startswith(("0.", "127.")))}
    for mac in macs - {"000000000000"}:
        assert mac not in text.lower()
    for ip in personal:
        assert not re.search(rf"(?<![\d.]){re.escape(ip)}(?!\d|\.\d)", text), ip
    for line in text.splitlines():  # snmpsim format: OID|tag|value, text only when plain ASCII
        oid, tag, value = line.split("|", 2)
        assert re.fullmatch(r"\d+(\.\d+)+", oid) and tag in {"2", "4", "4x", "5", "6", "64", "65", "66", "67",
                                                              "68x", "70"}, line
        if tag.endswith("x"):
            assert re.fullmatch(r"([0-9a-f]{2})*", value), line


def is_netmask(ip: str) -> bool:
    """Ones then zeros (255.255.255.0, 240.0.0.0): kept by the scrubber, they identify nobody."""
    return re.fullmatch("1+0*", f"{int(ipaddress.ip_address(ip)):032b}") is not None


def test_walk_names_objects_from_compiled_mibs(local_sim, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("FLEETMETER_HOME", str(tmp_path))
    code = main(["walk", local_sim.host, "PWG-IMAGING-COUNTER-MIB::icImpressionTable",
                 "--port", str(local_sim.port), "--community", "pwg_imaging"])
    out = capsys.readouterr().out
    assert code == 0
    # icImpressionTotalImps (PWG 5106.3: column 4 of icImpressionTable) of the system-totals lifetime row
    oid = "1.3.6.1.4.1.2699.1.3.1.8.1.1.4.1.3.3"
    value = recorded_value(RECORDINGS / "pwg_imaging.snmprec", oid)
    assert f"{oid}  PWG-IMAGING-COUNTER-MIB::icImpressionTotalImps.1.3.3 = INTEGER: {value}" in out
    assert all(line.startswith("1.3.6.1.4.1.2699.1.3.1.8.") for line in out.splitlines())
    assert (tmp_path / "agent" / "cache" / "mibs" / "PWG-IMAGING-COUNTER-MIB.py").exists(), "compiled once, cached"


def test_walk_json_and_standard_names(local_sim, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("FLEETMETER_HOME", str(tmp_path))
    code = main(["walk", local_sim.host, "1.3.6.1.2.1.1", "--json",
                 "--port", str(local_sim.port), "--community", "kyocera_taskalfa"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    by_name = {o["name"]: o for o in doc["objects"]}
    assert by_name["SNMPv2-MIB::sysDescr.0"]["value"] == recorded_value(RECORDINGS / "kyocera_taskalfa.snmprec",
                                                                        "1.3.6.1.2.1.1.1.0")
    assert by_name["SNMPv2-MIB::sysObjectID.0"]["type"] == "OID"


def test_walk_unknown_module_is_one_line_naming_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("FLEETMETER_HOME", str(tmp_path))
    code = main(["walk", "127.0.0.1", "KYOCERA-MIB::kcprtTotalPrintCount", "--port", "9"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "\n" not in err and "MIB module KYOCERA-MIB not found" in err


def test_record_skips_past_objects_the_device_cannot_answer(snmpsim, tmp_path, monkeypatch, capsys):
    """zebra.snmprec holds OIDs snmpsim cannot encode (see the fixtures README): a plain walk stops
    there; record skips ahead, says what it skipped, and still records the rest of the device."""
    monkeypatch.setenv("FLEETMETER_HOME", str(tmp_path))
    out = tmp_path / "zebra.snmprec"
    code = main(["record", snmpsim.host, "--port", str(snmpsim.port), "--community", "zebra",
                 "--timeout", "0.5", "--retries", "0", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 0
    assert "skipped to" in err and "missing from the recording" in err
    original = (FIXTURES / "zebra.snmprec").read_text().splitlines()
    recorded = out.read_text().splitlines()
    private = [line.split("|")[0] for line in original if line.startswith("1.3.6.1.4.1.")]
    assert [line.split("|")[0] for line in recorded if line.startswith("1.3.6.1.4.1.")] == private
