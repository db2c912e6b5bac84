"""`fleetmeter-agent run --metrics-port N`: scraped over HTTP on 127.0.0.1 while the service reads the
project's simulated printers over UDP and uploads to a real server; the figures follow what it did."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from fleetmeter_contract.config import merge
from fleetmeter_contract.durations import TEST_TIMING
from server_stub.api.app import Limits
from server_stub.fleet import remote_config as agent_config
from service_peers import QUIET, AgentProcess
from sim_peer import SimFleet
from trust_peers import environment, free_tcp_port, in_transaction, start_site, stop_site


@pytest.fixture()
def site(tmp_path):
    running = start_site("sqlite", tmp_path / "server", Limits(rate_per_minute=0, heartbeats_per_minute=0))
    yield running
    stop_site(running)


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    with requests.Session() as http:
        http.trust_env = False
        text = http.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {(s.name, tuple(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_agent_metrics_follow_reads_and_uploads(site, tmp_path, monkeypatch):
    monkeypatch.setenv(TEST_TIMING, "1")  # the test's one-second heartbeats pass the configuration's floors
    printers = SimFleet(2)
    printing = True
    agent = AgentProcess(tmp_path / "agent-home")
    name = agent.enrol(site, "metrics-agent")
    ranges = [f"{printers.endpoint(i).host}:{printers.endpoint(i).port}" for i in range(2)]
    for key, value in merge(QUIET, {"ranges": ranges, "credentials": [{"version": "2c", "community": "public"}]}).items():
        in_transaction(site, agent_config.set_entry, "agent", name, key, value, site.box)
    port = free_tcp_port()
    agent.start("--metrics-port", str(port))
    try:
        agent.wait_for("service started")
        before = scrape(port)
        assert before[("fleetmeter_agent_outbox_depth", ())] == 0
        read_key = ("fleetmeter_agent_devices_read_total", (("job", "inspection"),))
        failed_key = ("fleetmeter_agent_device_failures_total", (("job", "inspection"),))
        # a start-up catch-up run (before the server's schedules arrive) may already have counted: count from here
        read_before, failed_before = before.get(read_key, 0), before.get(failed_key, 0)
        for job in ("discovery", "inspection"):
            done = agent.cli("scan-now", job, "--wait", "--timeout", "60")
            assert done.returncode == 0, done.stderr
        after = scrape(port)
        assert after[read_key] == read_before + 2
        assert after.get(failed_key, 0) == failed_before
        deadline = time.monotonic() + 30  # the delivery loop uploads what the inspection queued
        while scrape(port).get(("fleetmeter_agent_last_upload_ok", ())) != 1 or \
                scrape(port)[("fleetmeter_agent_outbox_depth", ())] != 0:
            assert time.monotonic() < deadline, scrape(port)
            time.sleep(0.2)
        assert abs(scrape(port)[("fleetmeter_agent_last_upload_timestamp_seconds", ())] - time.time()) < 60
        assert site.readings_of(name) == 2
        printers.stop()  # both printers gone: the next inspection counts them as failures
        printing = False
        done = agent.cli("scan-now", "inspection", "--wait", "--timeout", "60")
        assert scrape(port)[failed_key] == failed_before + 2, done.stdout
    finally:
        agent.stop()
        if printing:
            printers.stop()


def test_metrics_port_in_use_is_one_line(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = subprocess.run([sys.executable, "-m", "agent.cli", "run", "--quiet", "--metrics-port",
                               str(taken.getsockname()[1])], env=environment(tmp_path), capture_output=True,
                              text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "cannot serve metrics" in done.stderr
