"""User meters from meters.toml (numeric OIDs and MIB symbols, compiled offline), used by `poll`."""

from __future__ import annotations

import json

import pytest

from agent.cli import main
from conftest import RECORDINGS, recorded

OWN = json.loads((RECORDINGS / "manifest.json").read_text())["entries"]

# A made-up vendor MIB, as a dealer would drop into <config>/mibs (64000 stands for a made-up vendor).
ACME_MIB = """ACME-PRINTER-MIB DEFINITIONS ::= BEGIN
IMPORTS MODULE-IDENTITY, OBJECT-TYPE, Counter32, enterprises FROM SNMPv2-SMI;
acme MODULE-IDENTITY
    LAST-UPDATED "202611220000Z" ORGANIZATION "ACME" CONTACT-INFO "none" DESCRIPTION "test"
    ::= { enterprises 64000 }
acmeMeters OBJECT IDENTIFIER ::= { acme 2 }
acmeA3Prints OBJECT-TYPE
    SYNTAX Counter32 MAX-ACCESS read-only STATUS current DESCRIPTION "A3 prints"
    ::= { acmeMeters 1 }
END
"""
METERS = """
[meters]
total = "PWG-IMAGING-COUNTER-MIB::icImpressionTotalImps.1.3.3"
sheets = "PWG-IMAGING-COUNTER-MIB::icSheetTotalSheets.1.3.3"
a3_prints = "ACME-PRINTER-MIB::acmeA3Prints.0"

[profiles.kyocera.meters]
kyocera_only = "1.3.6.1.4.1.1347.43.10.1.1.12.1.1"

[profiles.ricoh.meters]
full_color_copies = { table = "1.3.6.1.4.1.367.3.2.1.2.19.5.1.9", key = "1.3.6.1.4.1.367.3.2.1.2.19.5.1.2", match = [202] }
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETMETER_HOME", str(tmp_path))
    config = tmp_path / "agent" / "config"
    (config / "mibs").mkdir(parents=True)
    (config / "mibs" / "ACME-PRINTER-MIB").write_text(ACME_MIB)
    (config / "meters.toml").write_text(METERS)
    return tmp_path


def poll_json(sim, community, capsys, *extra) -> dict:
    code = main(["poll", sim.host, "--port", str(sim.port), "--community", community, "--timeout", "2",
                 "--json", *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.mark.parametrize("name", [n for n in OWN if "config_meters" in OWN[n]])
def test_configured_meters_by_symbol_and_oid(name, home, local_sim, capsys):
    doc = poll_json(local_sim, name, capsys)
    for meter, want in OWN[name]["config_meters"].items():
        assert doc["counters"][meter] == want["value"], meter
        assert doc["counter_sources"][meter] == {"oid": want["oid"], "origin": "config", "unit": None}
    if name != "kyocera_taskalfa":
        assert "kyocera_only" not in doc["counters"], "profile-scoped meters stay with their profile"


def test_config_outranks_the_standard_counter_and_says_so(home, local_sim, capsys):
    doc = poll_json(local_sim, "pwg_imaging", capsys)
    expected = OWN["pwg_imaging"]["config_meters"]["total"]
    assert any(w.startswith(f"counter total: config {expected['oid']} = {expected['value']} kept; rfc3805 ")
               for w in doc["warnings"]), doc["warnings"]


def test_poll_without_config_file_uses_none(tmp_path, monkeypatch, local_sim, capsys):
    monkeypatch.setenv("FLEETMETER_HOME", str(tmp_path))
    doc = poll_json(local_sim, "pwg_imaging", capsys)
    assert doc["counter_sources"]["total"]["origin"] == "rfc3805"
    assert "sheets" not in doc["counters"]


@pytest.mark.parametrize("content, message", [
    ('[meters]\ntotal = "KYOCERA-MIB::kcprtTotalPrintCount.1"\n', "MIB module KYOCERA-MIB not found"),
    ('[meters]\ntotal = "PWG-IMAGING-COUNTER-MIB::icNothing.1"\n', "has no object icNothing"),
    ('[meters\n', "meter configuration"),
    ('[meter]\ntotal = "1.3.6.1.2.1.1.3.0"\n', "unknown section"),
    ('[meters]\nTotal = "1.3.6.1.2.1.1.3.0"\n', "lower_snake_case"),
])
def test_config_errors_are_one_line(content, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FLEETMETER_HOME", str(tmp_path))
    path = tmp_path / "meters.toml"
    path.write_text(content)
    code = main(["poll", "127.0.0.1", "--port", "9", "--config", str(path)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "\n" not in err and message in err and err.startswith("fleetmeter-agent: ")


def test_missing_config_file_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FLEETMETER_HOME", str(tmp_path))
    code = main(["poll", "127.0.0.1", "--port", "9", "--config", str(tmp_path / "nope.toml")])
    assert code == 2 and "nope.toml not found" in capsys.readouterr().err


def test_the_example_configuration_loads(tmp_path):
    """agent/printer/meters.example.toml is what users copy: it must stay valid."""
    from agent.printer.meter_config import load_meter_config
    from agent.mibs import resolver_for

    example = RECORDINGS.parent.parent / "agent" / "printer" / "meters.example.toml"
    meters = load_meter_config(example, resolver_for(tmp_path / "config", tmp_path / "cache"))
    assert [m.meter for m in meters.for_profile("ricoh")] == ["sheets", "two_color_prints"]
    assert meters.for_profile("kyocera")[-1].oids == ["1.3.6.1.4.1.1347.42.2.1.1.1.8.1.1"]


def test_the_service_reads_meters_toml_and_the_configured_low_threshold(home, local_sim, tmp_path):
    """Scheduled inspections load meters.toml and thresholds.supply_low_percent the way `poll` does: the
    configured meter reaches the queued reading, and the supply's low state moves with the threshold."""
    import asyncio

    from agent.home import agent_paths
    from agent.outbox import Outbox
    from agent.scheduler.config import DEFAULTS, build, merge
    from agent.scheduler.jobs import Jobs
    from agent.network.known_devices import KnownDevices
    from agent.snmp.credentials import Credentials
    from agent.snmp.fleet import Target

    name = "kyocera_taskalfa"
    level = int(recorded(RECORDINGS / f"{name}.snmprec", "1.3.6.1.2.1.43.11.1.1.9.1.1"))
    maximum = int(recorded(RECORDINGS / f"{name}.snmprec", "1.3.6.1.2.1.43.11.1.1.8.1.1"))
    percent = 100 * level / maximum
    paths = agent_paths().ensure()
    credentials = Credentials(community=name)

    def inspect(threshold: float) -> dict:
        config = build(merge(DEFAULTS, {"usb": False, "credentials": [{"version": "2c", "community": name}],
                                        "snmp": {"timeout": 3, "retries": 2},
                                        "thresholds": {"supply_low_percent": threshold}}))
        outbox = Outbox(tmp_path / f"outbox-{threshold}.db")
        known = KnownDevices(tmp_path / f"known-{threshold}.sqlite")
        known.save([Target(local_sim.host, local_sim.port, credentials)], config.credentials)
        jobs = Jobs(outbox, known, discover=None, config_dir=paths.config, cache_dir=paths.cache)
        result = asyncio.run(jobs.inspect("meters", config))
        assert result.queued == 1, result.summary()
        [queued] = outbox.peek(1)
        return queued.document

    at = inspect(percent)
    for meter, want in OWN[name]["config_meters"].items():
        assert at["counters"][meter] == want["value"] and at["counter_sources"][meter]["origin"] == "config"
    assert [s["state"] for s in at["supplies"]] == ["low"]
    assert [s["state"] for s in inspect(percent - 1)["supplies"]] == ["ok"]


@pytest.mark.parametrize("shift, state", [(0, "low"), (-1, "ok")])
def test_poll_takes_the_low_threshold_from_agent_toml(shift, state, home, local_sim, capsys):
    name = "kyocera_taskalfa"
    level = int(recorded(RECORDINGS / f"{name}.snmprec", "1.3.6.1.2.1.43.11.1.1.9.1.1"))
    maximum = int(recorded(RECORDINGS / f"{name}.snmprec", "1.3.6.1.2.1.43.11.1.1.8.1.1"))
    (home / "agent" / "config" / "agent.toml").write_text(
        f"[thresholds]\nsupply_low_percent = {100 * level / maximum + shift}\n")
    assert [s["state"] for s in poll_json(local_sim, name, capsys)["supplies"]] == [state]


@pytest.mark.parametrize("value", ["150", '"ten"', "-1", "nan"])
def test_a_bad_threshold_is_one_line(value, home, capsys):
    (home / "agent" / "config" / "agent.toml").write_text(f"[thresholds]\nsupply_low_percent = {value}\n")
    code = main(["poll", "127.0.0.1", "--port", "9"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "thresholds.supply_low_percent" in err
