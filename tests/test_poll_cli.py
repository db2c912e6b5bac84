"""`fleetmeter-agent poll` as a user runs it: a subprocess against snmpsim over UDP on loopback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import DEMO_DEVICES, V3_USER, load_manifest, recorded
from test_poll_recordings import SNMPREC

SERIAL_OID = "1.3.6.1.2.1.43.5.1.1.17.1"
DESIGN_KEYS = {"schema", "collected_at", "transport", "address", "port", "is_printer", "identity", "counters",
               "counter_sources", "supplies", "trays", "status", "alerts", "stats"}
IDENTITY_KEYS = {"serial", "manufacturer", "model", "sys_descr", "sys_object_id", "sys_name", "mac", "firmware",
                 "location", "contact", "uptime_s"}
COUNTER_KEYS = {"total", "mono", "color", "print_mono", "print_color", "copy_mono", "copy_color", "scan", "fax",
                "duplex", "large_mono", "large_color"}
SUPPLY_KEYS = {"index", "description", "type", "color", "class", "unit", "level", "max_capacity", "percent",
               "pages_remaining", "state", "part_number", "serial"}


def agent(env, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_json_document_has_the_design_schema(snmpsim, agent_env):
    entry = next(e for e in SNMPREC if e["snmpsim_community"] == "ricoh_mpc3002")
    result = agent(agent_env, "poll", snmpsim.host, "--port", str(snmpsim.port),
                   "--community", entry["snmpsim_community"], "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)  # stdout holds exactly one JSON document
    assert doc["schema"] == "fleetmeter.device/1"
    assert DESIGN_KEYS <= set(doc)
    assert set(doc["identity"]) == IDENTITY_KEYS
    assert set(doc["counters"]) == COUNTER_KEYS
    assert all(SUPPLY_KEYS <= set(s) for s in doc["supplies"])
    assert doc["collected_at"].endswith("Z") and doc["transport"] == "snmp"
    assert doc["identity"]["serial"] == entry["expected"]["serial"]
    assert doc["counters"]["total"] == entry["walk_readout"]["prtMarker_counters"][0]["prtMarkerLifeCount"]
    assert doc["stats"]["pdus"] >= 1 and doc["stats"]["bytes"] > 0
    assert doc["stats"]["pdus"] <= 4, "a typical printer's whole inventory fits in 4 request PDUs"


def test_human_summary_shows_supplies_with_bars(snmpsim, agent_env):
    result = agent(agent_env, "poll", snmpsim.host, "--port", str(snmpsim.port), "--community", "jetdirect_m880")
    assert result.returncode == 0, result.stderr
    assert "supplies" in result.stdout and "[####" in result.stdout
    entry = next(e for e in load_manifest() if e["snmpsim_community"] == "jetdirect_m880")
    assert entry["expected"]["model"] in result.stdout


def test_wrong_community_is_one_line_and_exit_2(snmpsim, agent_env):
    result = agent(agent_env, "poll", snmpsim.host, "--port", str(snmpsim.port), "--community", "no-such",
                   "--timeout", "0.3", "--retries", "1")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert f"no SNMP answer from {snmpsim.host}:{snmpsim.port} after 0.3 s x 2 tries" in lines[0]
    assert "community" in lines[0]


def test_unresolvable_host_is_one_line(agent_env):
    result = agent(agent_env, "poll", "no-such-host.invalid", "--timeout", "0.3")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_bad_v3_options_are_usage_errors(agent_env):
    result = agent(agent_env, "poll", "127.0.0.1", "--v3-user", "u", "--auth-key", "short")
    assert result.returncode == 2
    assert "at least 8 characters" in result.stderr and "Traceback" not in result.stderr


def v3_args(sim, **override) -> list[str]:
    user = dict(V3_USER, **override)
    return ["poll", sim.host, "--port", str(sim.port), "--v3-user", user["user"], "--auth-proto",
            user["auth_proto"], "--auth-key", user["auth_key"], "--priv-proto", user["priv_proto"],
            "--priv-key", user["priv_key"], "--context", "demo-color-mfp", "--timeout", "0.5", "--json"]


def test_snmpv3_auth_priv_poll(local_sim, agent_env):
    result = agent(agent_env, *v3_args(local_sim))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["is_printer"]
    assert doc["identity"]["serial"] == recorded(DEMO_DEVICES / "demo-color-mfp.snmprec", SERIAL_OID)
    assert V3_USER["auth_key"] not in result.stdout + result.stderr


@pytest.mark.parametrize("override, message", [
    ({"auth_key": "wrong-auth-key"}, "SNMPv3 authentication failed"),
    ({"priv_key": "wrong-priv-key"}, "SNMPv3 decryption failed"),
    ({"user": "intruder"}, "SNMPv3 user unknown"),
])
def test_snmpv3_failures_are_named(local_sim, agent_env, override, message):
    result = agent(agent_env, *v3_args(local_sim, **override))
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    for secret in (V3_USER["auth_key"], V3_USER["priv_key"], "wrong-auth-key", "wrong-priv-key"):
        assert secret not in result.stderr


def test_snmpv1_poll(local_sim, agent_env):
    result = agent(agent_env, "poll", local_sim.host, "--port", str(local_sim.port), "--snmp-version", "1",
                   "--community", "demo-mono-laser", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    device = DEMO_DEVICES / "demo-mono-laser.snmprec"
    assert doc["identity"]["serial"] == recorded(device, SERIAL_OID)
    assert doc["counters"]["total"] == int(recorded(device, "1.3.6.1.2.1.43.10.2.1.4.1.1"))
