"""The agent as a service, end to end: `fleetmeter-agent run` as a subprocess against the real server over
HTTP on 127.0.0.1 (SQLite and PostgreSQL) and real printers simulated by snmpsim on loopback addresses."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys

import pytest

from agent.network.devices import normalise_serial
from agent.network.known_devices import KnownDevices
from agent.scheduler.config import merge
from agent.scheduler.control import request
from server_stub.fleet import remote_config as agent_config
from server_stub.api.app import Limits, create_app
from service_peers import DEVICES, FIXTURES, HOSTS, QUIET, AgentProcess, fleet, manifest_entry, reading_key
from peers import Simulator
from fleetmeter_contract.durations import TEST_TIMING
from trust_peers import DATABASES, LiveServer, environment, in_transaction, start_site, stop_site

import trust_peers


@pytest.fixture(scope="module")

def sim(tmp_path_factory):
    simulator = Simulator(FIXTURES, tmp_path_factory.mktemp("service-sim"), also_on=HOSTS[1:])
    yield simulator
    simulator.stop()


@pytest.fixture(scope="module", params=DATABASES)
def site(request, tmp_path_factory):
    running = start_site(request.param, tmp_path_factory.mktemp(f"service-{request.param}"),
                         Limits(rate_per_minute=0, heartbeats_per_minute=0))
    yield running
    stop_site(running)


@pytest.fixture(autouse=True)
def fast_schedules(monkeypatch):
    """Schedules of a second (the configuration's floors are for real sites): here and in the agent processes."""
    monkeypatch.setenv(TEST_TIMING, "1")


def configure(site, agent: str, document: dict) -> None:
    """Store a whole configuration document as the agent's server-side entries (one key per top level)."""
    for key, value in document.items():
        in_transaction(site, agent_config.set_entry, "agent", agent, key, value, site.box)


def server_cli(site, home, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server_stub.cli", *args, "--db", site.db.url],
                          env=environment(home, **site.secret_env), capture_output=True, text=True, input=stdin, timeout=60)


def quiesce(site, agent: AgentProcess, name: str) -> None:
    """Switch the agent's schedules off from the server, stop it (a run going on is cancelled, having queued
    all it read or nothing) and start it again until what is left is delivered. Nothing is queued after
    that, so the next stop cannot fall between a run queueing readings and their delivery. (Not scan-now
    to wait out a run: a second run in the same second would be the same reading to the server.)"""
    applied = len(re.findall(r"configuration \w+ applied", agent.text()))
    configure(site, name, {"schedules": QUIET["schedules"]})
    agent.wait_for(r"configuration \w+ applied", count=applied + 1)
    assert agent.stop() == 0
    starts = agent.text().count("service started")
    agent.start()
    agent.wait_for(r"service started", count=starts + 1)  # its SIGTERM handler is in place
    agent.wait_until_delivered()


def test_outage_then_kill9_then_recovery_delivers_every_reading_once(site, sim, tmp_path, monkeypatch):
    """Server down for many upload cycles, the agent killed -9 and restarted meanwhile, server back: every
    reading the jobs queued reaches the server exactly once. Counted from durable records only (the outbox's
    and the server's databases, readings identified by device and collected_at), never from log lines: the
    log says what happened only after it happened, and a kill or a stop can fall in between."""
    agent = AgentProcess(tmp_path)
    name = agent.enrol(site, f"outage-{site.db.kind}")
    configure(site, name, merge(QUIET, {**fleet(sim, 2), "schedules": {"supplies": {"enabled": True,
                                                                                     "interval": "2s"}}}))
    agent.start()
    agent.wait_for(r"upload: \d+ reading")
    site.live.stop()
    agent.wait_for(r"upload failed", count=4)
    agent.wait_for(r"supplies: 2/2", count=4)
    log_before = agent.text().count("supplies: 2/2")
    agent.wait_for(r"supplies: 2/2", count=log_before + 1)  # kill right after a run (or during the next one)
    agent.kill()
    held = {reading_key(item.document) for item in agent.outbox().peek(10_000)}
    assert held, "the outage left readings queued"
    agent.start()
    agent.wait_for(r"service started", count=2)
    agent.wait_for(r"supplies: 2/2", count=log_before + 3)
    monkeypatch.setattr(trust_peers, "free_tcp_port", lambda: site.live.port)
    site.live = LiveServer(create_app(site.engine, site.ca, site.limits))
    quiesce(site, agent, name)
    assert agent.stop() == 0
    assert len(agent.outbox()) == 0
    stored = site.reading_keys(name)
    assert len(stored) == len(set(stored)) == agent.queued_ever()  # nothing lost, nothing stored twice
    assert held <= set(stored)  # what waited through the kill -9 among them
    assert "stopped; 0 reading(s) queued" in agent.text()
    assert "Traceback" not in agent.text() + (tmp_path / "stderr.txt").read_text()


def test_remote_configuration_scan_now_and_states(site, sim, tmp_path):
    agent = AgentProcess(tmp_path)
    name = agent.enrol(site, f"config-{site.db.kind}")
    configure(site, name, merge(QUIET, fleet(sim, 1)))
    assert agent.cli("scan-now", "inspection").returncode == 2  # not running yet: one line, exit 2
    agent.start()
    agent.wait_for(r"service started")
    data = tmp_path / "agent" / "data"
    assert stat.S_IMODE((data / "control.sock").stat().st_mode) == 0o600
    done = agent.cli("scan-now", "inspection", "--wait")
    assert done.returncode == 0, done.stderr
    assert "inspection: 1/1 device(s) read" in done.stdout

    # the server changes ranges, credentials (from stdin: not in the process list) and a schedule
    two = fleet(sim, 3)
    changed = server_cli(site, tmp_path, "config", "set", "--agent", name, "credentials", "-",
                         stdin=json.dumps(two["credentials"]))
    assert changed.returncode == 0, changed.stderr
    in_transaction(site, agent_config.set_entry, "agent", name, "ranges", two["ranges"])
    in_transaction(site, agent_config.set_entry, "agent", name, "schedules.alerts", {"enabled": True, "interval": "7m"})
    in_transaction(site, agent_config.set_entry, "client", "Acme", "thresholds.supply_low_percent", 15)
    agent.wait_for(r"configuration \w+ applied: alerts every 420 s")
    status = request(data, {"command": "status"}, 10)
    assert status["schedules"]["alerts"] == "every 420 s"
    agent.wait_for(r"discovery: 3 device\(s\) answer")  # new ranges and credentials: discovered again at once
    done = agent.cli("scan-now", "discovery", "--wait")
    assert "3 device(s) answer" in done.stdout, done.stdout + done.stderr
    done = agent.cli("scan-now", "inspection", "--wait", "--json")
    assert json.loads(done.stdout)["result"]["read"] == 3

    shown = json.loads(server_cli(site, tmp_path, "config", "show", "--agent", name, "--json").stdout)
    assert all(c["community"] == "***" for c in shown["effective"]["credentials"])
    assert shown["effective"]["thresholds"] == {"supply_low_percent": 15}  # the client's default reaches it
    listed = json.loads(server_cli(site, tmp_path, "agents", "list", "--json").stdout)
    mine = next(a for a in listed["agents"] if a["name"] == name)
    assert mine["state"] == "enrolled" and mine["connection"] == "connected"
    assert [p["part"] for p in mine["parts"]] == ["network"]
    assert agent.stop() == 0

    # the service's discovery recorded the printers' identities in the known-devices store, as `discover` does
    store = KnownDevices(data / "known_devices.sqlite")
    try:
        known = {d.serial: d for d in store.all()}
    finally:
        store.close()
    for host, device in zip(HOSTS, DEVICES[:3]):
        row = known[normalise_serial(manifest_entry(device)["expected"]["serial"])]
        assert (row.address, row.port, row.is_printer) == (host, sim.port, True), row
        assert row.credential is not None and device not in row.credential  # described, never the secret

    # secrets: not in the log, not readable in the sealed configuration cache
    sealed = (data / "remote-config.sealed").read_bytes()
    for community in DEVICES[:3]:
        assert community.encode() not in sealed
    assert stat.S_IMODE((data / "vault.key").stat().st_mode) == 0o600
    assert "community" not in agent.text()
    for device in DEVICES[:3]:
        serial = manifest_entry(device)["expected"]["serial"]
        assert site.count("SELECT count(*) FROM readings WHERE device_key LIKE :k", k=f"%:{serial}") >= 1
    gone = agent.cli("scan-now", "alerts")
    assert gone.returncode == 2 and "not running" in gone.stderr and "Traceback" not in gone.stderr


def test_alerts_job_uploads_only_changes(site, sim, tmp_path):
    agent = AgentProcess(tmp_path)
    name = agent.enrol(site, f"alerts-{site.db.kind}")
    configure(site, name, merge(QUIET, {**fleet(sim, 2), "schedules": {"alerts": {"enabled": True,
                                                                                   "interval": "1s"}}}))
    agent.start()
    agent.wait_for(r"alerts: 2/2 device\(s\) read", count=4)
    agent.wait_until_delivered()
    assert agent.stop() == 0
    # nothing changed on the simulated printers: one reading each over all runs (whichever run reached it
    # first; a loaded machine may time one out once), counted in the outbox and on the server, not the log
    assert agent.queued_ever() == 2
    assert len({key for key, _ in site.reading_keys(name)}) == site.readings_of(name) == 2


def test_a_stop_during_a_scheduled_run_ends_it_quietly(site, sim, tmp_path):
    """SIGTERM while a scheduled run waits for a printer that never answers (a community snmpsim has no
    recording for): the run is cancelled with one line, not logged as a job failure with a traceback."""
    agent = AgentProcess(tmp_path)
    name = agent.enrol(site, f"stop-{site.db.kind}")
    configure(site, name, merge(QUIET, {"credentials": [{"name": "nobody", "version": "2c", "community": "nobody"}],
                                        "ranges": [{"range": f"{HOSTS[0]}:{sim.port}", "credentials": ["nobody"]}],
                                        "schedules": {"supplies": {"enabled": True, "interval": "1h"}}}))
    agent.start()
    agent.wait_for(r"service started")
    busy = agent.cli("scan-now", "supplies")  # the scheduled first run still waits for its discovery's timeouts
    assert busy.returncode == 1 and "already running" in busy.stderr, busy.stdout + busy.stderr
    assert agent.stop() == 0
    assert "Traceback" not in agent.text() + (tmp_path / "stderr.txt").read_text()
    assert "supplies: cancelled by the stop" in agent.text()


def test_bad_local_configuration_is_one_line(tmp_path):
    agent = AgentProcess(tmp_path)
    config = tmp_path / "agent" / "config"
    config.mkdir(parents=True)
    (config / "agent.toml").write_text('[schedules.meters]\ncron = "every day"\n')
    done = agent.cli("run", "--quiet")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "schedules.meters.cron" in done.stderr
    (config / "agent.toml").write_text('credentials = [{community = "s3cret"}]\n')
    os.chmod(config / "agent.toml", 0o644)
    done = agent.cli("run", "--quiet")
    assert done.returncode == 2 and "chmod 600" in done.stderr
