"""The whole trust path through both command lines, as a dealer and a site admin would run it: server init,
serve, agents add, agent enroll, poll --upload of a simulated printer, listings, revoke, re-enrol; on SQLite
and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import requests

from trust_peers import DATABASES, Database, environment, free_tcp_port

AGENT = [sys.executable, "-m", "agent.cli"]
SERVER = [sys.executable, "-m", "server_stub.cli"]


def run(cmd: list[str], env: dict, expect: int = 0) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == expect, f"{cmd[2:]} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done


@pytest.fixture(params=DATABASES)
def served(request, tmp_path):
    db = Database(request.param, tmp_path)
    env = environment(tmp_path / "home", FLEETMETER_DB=db.url)
    run(SERVER + ["init"], env)
    port = free_tcp_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(SERVER + ["serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url + "/healthz", timeout=1)
            break
        except requests.ConnectionError:
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
    yield url, env
    proc.terminate()
    proc.wait(10)
    db.drop()


def test_enrol_poll_upload_revoke_reenrol(served, snmpsim, manifest, tmp_path):
    url, env = served
    printer = next(e for e in manifest if e["expected"].get("serial") not in (None, "unknown"))
    poll = AGENT + ["poll", snmpsim.host, "--port", str(snmpsim.port), "--community",
                    printer["snmpsim_community"], "--upload", "--json"]

    key = json.loads(run(SERVER + ["agents", "add", "site-1", "--client", "Acme", "--json"], env).stdout)
    assert set(key) == {"name", "key", "expires_at"}
    run(AGENT + ["status"], env)
    enrolled = run(AGENT + ["enroll", "--server", url, "--key", key["key"]], env)
    assert "enrolled as site-1 (client Acme)" in enrolled.stdout
    key_file = tmp_path / "home" / "agent" / "data" / "certs" / "key.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert key["key"] not in (tmp_path / "serve.log").read_text()

    uploaded = run(poll, env)
    assert json.loads(uploaded.stdout)["identity"]["serial"] == printer["expected"]["serial"]
    assert "upload ok" in uploaded.stderr

    [device] = json.loads(run(SERVER + ["devices", "list", "--json"], env).stdout)["devices"]
    assert device["serial"] == printer["expected"]["serial"] and device["agent"] == "site-1"
    [agent] = json.loads(run(SERVER + ["agents", "list", "--json"], env).stdout)["agents"]
    assert agent["state"] == "enrolled" and agent["remote_ip"] == "127.0.0.1" and agent["version"]
    assert agent["certificate_fingerprint"] and agent["last_seen_at"]

    again = run(AGENT + ["enroll", "--server", url, "--key", key["key"]], env, expect=1)
    assert "already used" in again.stderr

    run(SERVER + ["agents", "revoke", "site-1"], env)
    refused = run(poll, env, expect=1)
    assert "revoked" in refused.stderr and "enroll --server" in refused.stderr
    status = run(AGENT + ["status"], env).stdout
    assert "state:        revoked" in status and "queued:       1 reading" in status

    new_key = json.loads(run(SERVER + ["agents", "add", "site-1", "--client", "Acme", "--json"], env).stdout)
    reenrolled = run(AGENT + ["enroll", "--server", url, "--key", new_key["key"]], env)
    assert "kept readings: 1 reading(s) delivered" in reenrolled.stdout
    assert "state:        enrolled" in run(AGENT + ["status"], env).stdout
    [device] = json.loads(run(SERVER + ["devices", "list", "--json"], env).stdout)["devices"]
    assert device["readings"] == 2


def test_cli_refusals_are_one_line(tmp_path):
    env = environment(tmp_path / "home")
    plain = run(AGENT + ["enroll", "--server", "http://10.0.0.5:8443", "--key", "k"], env, expect=2)
    assert plain.stderr.count("\n") == 1 and "--allow-http" in plain.stderr
    not_enrolled = run(AGENT + ["status"], env).stdout
    assert "not enrolled" in not_enrolled
    uninitialised = run(SERVER + ["agents", "list"], env, expect=1)
    assert "fleetmeter-server init" in uninitialised.stderr
    bad_db = run(SERVER + ["agents", "list", "--db", "postgresql://127.0.0.1:1/none"], env, expect=2)
    assert "cannot use the database" in bad_db.stderr and bad_db.stderr.count("\n") == 1
