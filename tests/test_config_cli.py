"""`fleetmeter-server config set` refuses what agents or the server cannot use (#16), through the real CLI, on
SQLite and PostgreSQL: one line on stderr naming the key, exit 2, nothing stored."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from trust_peers import DATABASES, Database, environment

SERVER = [sys.executable, "-m", "server_stub.cli"]


@pytest.fixture(scope="module", params=DATABASES)
def server(request, tmp_path_factory):
    home = tmp_path_factory.mktemp(f"config-{request.param}")
    db = Database(request.param, home)

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [*SERVER, *args[:2], "--db", db.url, *args[2:]]  # --db before a "--"
        return subprocess.run(command, env=environment(home), capture_output=True, text=True, timeout=60)

    assert run("init").returncode == 0
    assert run("agents", "add", "a1", "--client", "Acme").returncode == 0
    yield run
    db.drop()


@pytest.mark.parametrize("scope,key,value", [
    ("--global", "server.disconnected_after", "nan"),
    ("--global", "server.disconnected_after", "1e12d"),
    ("--global", "server.disconnected_after", "-5m"),
    ("--global", "server.stopped_reporting_after", "0"),
    ("--agent=a1", "thresholds.supply_low_percent", "NaN"),
    ("--agent=a1", "heartbeat", "1e400"),
    ("--agent=a1", "snmp.timeout", "-3"),
    ("--client=Acme", "snmp.concurrency", "0"),
    ("--client=Acme", "outbox.max_mb", "1"),
    ("--client=Acme", "snmp.retries", "11"),
    ("--client=Acme", "schedules.alerts.interval", "10s"),
    ("--client=Acme", "snmp.community", "\"x\""),
])
def test_unusable_values_are_refused_before_they_are_stored(server, scope, key, value):
    done = server("config", "set", scope, "--", key, value)  # "--": a value may start with "-"
    assert done.returncode == 2, done.stdout
    line = done.stderr.strip()
    assert "\n" not in line and "Traceback" not in line and key in line
    shown = json.loads(server("config", "show", "--json").stdout)
    assert [e for e in shown["entries"] if e["key"] == key] == []


def test_good_values_are_stored_and_heartbeat_timing_still_works(server):
    assert server("config", "set", "--global", "server.disconnected_after", "20m").returncode == 0
    assert server("config", "set", "--agent", "a1", "ranges", '["10.0.0.10-50"]').returncode == 0
    assert server("config", "set", "--agent", "a1", "exclude", '["10.0.0.20"]').returncode == 0
    listed = server("agents", "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout)["agents"][0]["connection"] == "new"
    assert server("alerts", "list", "--json").returncode == 0


def test_agents_add_does_not_move_an_agent_to_another_client(server):
    """#16: a new key for an existing agent of another client would hand that client's machine this one's
    credentials; it is refused and the agent stays where it was."""
    done = server("agents", "add", "a1", "--client", "Other Ltd")
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "belongs to client 'Acme'" in done.stderr
    agents = json.loads(server("agents", "list", "--json").stdout)["agents"]
    assert [(a["name"], a["client"]) for a in agents] == [("a1", "Acme")]
