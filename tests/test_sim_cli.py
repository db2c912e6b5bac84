"""`fleetmeter-sim serve` as a dealer runs it: the listing it writes names printers the agent's own
`poll` command reads, at the serials listed; bad options are one line and exit 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from peers import free_udp_port

SIM = [sys.executable, "-m", "fleetmeter_sim.cli"]


def test_serve_lists_printers_the_agent_reads(tmp_path, agent_env):
    listing = tmp_path / "sim.json"
    port = free_udp_port()
    proc = subprocess.Popen([*SIM, "serve", "--devices", "3", "--base-address", "127.0.0.1", "--port-base", str(port),
                             "--speed", "1440", "--list-json", str(listing)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=agent_env)
    try:
        deadline = time.monotonic() + 30
        while not listing.exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "fleetmeter-sim did not list its printers"
            time.sleep(0.05)
        devices = json.loads(listing.read_text())["devices"]
        assert [d["port"] for d in devices] == [port, port + 1, port + 2]
        for device in devices:
            result = subprocess.run([sys.executable, "-m", "agent.cli", "poll", device["address"], "--port",
                                     str(device["port"]), "--community", device["community"], "--json"],
                                    capture_output=True, text=True, env=agent_env, timeout=60)
            assert result.returncode == 0, result.stderr
            assert json.loads(result.stdout)["identity"]["serial"] == device["serial"]
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert [line.split("\t")[1] for line in out.splitlines()] == [d["serial"] for d in devices]
    assert "answered" in err.splitlines()[-1]


@pytest.mark.parametrize("args, message", [
    (["--base-address", "10.0.0.1"], "not a loopback address"),
    (["--base-address", "127.0.0.1", "--port-base", "65535"], "do not fit"),
])
def test_bad_layouts_are_one_line(args, message):
    result = subprocess.run([*SIM, "serve", "--devices", "2", *args], capture_output=True, text=True,
                            env=dict(os.environ), timeout=60)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
