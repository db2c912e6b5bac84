"""The agent against a broken or hostile server (issue #16, agent side): nothing queued is lost, nothing
stops the service for good, every answer is bounded in time and size, and the agent's files are private.

Everything runs through the real processes: `fleetmeter-agent poll --upload`, `enroll` and `run` as
subprocesses, talking HTTP on 127.0.0.1 to the real server (for enrolment and the final delivery) and to
`HostileServer` (tests/hostile_server.py) for the answers a real server should never give.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.certs.store import CertStore
from agent.commands.discover import STORE_NAME as DISCOVERY_STORE
from agent.outbox import Outbox
from agent.remote import send_heartbeat
from agent.scheduler.config import ConfigStore, document_version
from agent.scheduler.control import SOCKET as CONTROL_SOCKET
from agent.scheduler.service import Backoff
from agent.vault import Vault
from hostile_server import HostileServer, Reply, acknowledge, configuration, point_agent_at
from fleetmeter_contract.durations import TEST_TIMING
from server_stub.api.app import Limits
from server_stub.fleet import remote_config
from service_peers import QUIET, AgentProcess
from test_trust_ingest import reading
from trust_peers import DATABASES, environment, start_site, stop_site

HUGE = 200 * 1024 * 1024
COMMUNITY = "ricoh_mpc3002"  # a recording the shared snmpsim serves


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = start_site("sqlite", tmp_path_factory.mktemp("hardening"), Limits())
    yield site
    stop_site(site)


@pytest.fixture
def hostile():
    server = HostileServer()
    yield server
    server.stop()


def cli(home: Path, *args: str, umask: int = -1, timeout: float = 90, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], env=environment(home, **env),
                          capture_output=True, text=True, timeout=timeout, umask=umask)


def enrolled_home(tmp_path: Path, site, umask: int = -1) -> Path:
    """A FLEETMETER_HOME enrolled with the real server through `fleetmeter-agent enroll`."""
    home = tmp_path / "home"
    done = cli(home, "enroll", "--server", site.url, "--key", site.new_key().key, umask=umask)
    assert done.returncode == 0, done.stderr
    return home


def agent_name(home: Path) -> str:
    return json.loads((home / "agent" / "data" / "certs" / "enrolment.json").read_text())["agent"]


def outbox_of(home: Path) -> Outbox:
    return Outbox(home / "agent" / "data" / "outbox.db")


def poll_upload(home: Path, snmpsim, **env: str) -> subprocess.CompletedProcess:
    return cli(home, "poll", snmpsim.host, "--port", str(snmpsim.port), "--community", COMMUNITY, "--upload",
               "--json", **env)


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]



@pytest.fixture(autouse=True)
def fast_schedules(monkeypatch):
    """Heartbeats of a second (the configuration's floors are for real sites): here and in the agent processes."""
    monkeypatch.setenv(TEST_TIMING, "1")

# -- a batch leaves the outbox only on a well-formed acknowledgement ------------------------------------------

@pytest.mark.parametrize("answer", [
    {"ok": True},  # 200 without `stored`
    [1, 2, 3],  # another shape
    b"<html>stored</html>",  # not JSON
    {"received": 1, "stored": "1", "duplicates": 0},  # a string where a count belongs
    {"received": 7, "stored": 7, "duplicates": 0},  # counts that are not this batch
], ids=["no-stored", "list", "not-json", "string-count", "other-batch"])
def test_malformed_acknowledgement_keeps_the_batch_until_a_real_one(site, hostile, snmpsim, tmp_path, answer):
    home = enrolled_home(tmp_path, site)
    point_agent_at(home, hostile.url)
    hostile.routes["/v1/ingest"] = Reply(200, answer)
    first = poll_upload(home, snmpsim)
    assert first.returncode == 1
    assert "malformed acknowledgement" in one_line(first.stderr)
    (kept,) = outbox_of(home).peek(10)
    assert len(hostile.bodies("/v1/ingest")) == 1

    point_agent_at(home, site.url)  # the real server acknowledges both readings: the kept one and a new one
    second = poll_upload(home, snmpsim)
    assert second.returncode == 0, second.stderr
    assert "2 reading(s) delivered" in second.stderr and len(outbox_of(home)) == 0
    moments = {kept.document["collected_at"], json.loads(second.stdout)["collected_at"]}  # same second: one
    assert site.readings_of(agent_name(home)) == len(moments)


def test_service_retries_a_malformed_answer_and_delivers_everything(site, hostile, tmp_path):
    home = enrolled_home(tmp_path, site)
    point_agent_at(home, hostile.url)
    hostile.routes["/v1/heartbeat"] = configuration(QUIET)
    hostile.routes["/v1/ingest"] = Reply(200, {"ok": True})
    serials = [f"MALFORMED-{n}" for n in range(3)]
    outbox_of(home).put_many([reading(serial) for serial in serials])
    agent = AgentProcess(home)
    agent.start()
    try:
        agent.wait_for(r"upload failed \(3 reading\(s\) kept\): malformed acknowledgement", count=2)
        assert len(outbox_of(home)) == 3
        hostile.routes["/v1/ingest"] = acknowledge
        agent.wait_for(r"upload: 3 reading\(s\) delivered")
        assert len(outbox_of(home)) == 0
        sent = [r["identity"]["serial"] for body in hostile.bodies("/v1/ingest") for r in body["readings"]]
        assert set(sent) == set(serials)
    finally:
        assert agent.stop() == 0


def test_a_failing_service_loop_is_logged_and_restarted(site, hostile, tmp_path):
    home = enrolled_home(tmp_path, site)
    point_agent_at(home, hostile.url)
    hostile.routes["/v1/heartbeat"] = configuration(QUIET)
    hostile.routes["/v1/ingest"] = acknowledge
    agent = AgentProcess(home)
    agent.start()
    try:
        agent.wait_for("service started")
        database = home / "agent" / "data" / "outbox.db"
        for extra in ("-wal", "-shm"):
            Path(f"{database}{extra}").unlink(missing_ok=True)
        database.write_bytes(b"this is not an SQLite database" * 100)  # every outbox query now fails
        agent.wait_for(r"delivery loop failed \(DatabaseError: .*\); restarting it in", count=2)
        database.unlink()
        outbox_of(home).put(reading("AFTER-RESTART"))
        agent.wait_for(r"upload: 1 reading\(s\) delivered")
        sent = [r["identity"]["serial"] for body in hostile.bodies("/v1/ingest") for r in body["readings"]]
        assert "AFTER-RESTART" in sent
    finally:
        assert agent.stop() == 0


# -- a 400 naming readings[0] sets aside that reading only ----------------------------------------------------

def test_a_repeated_400_naming_the_first_reading_sets_aside_one_reading(site, hostile, snmpsim, tmp_path):
    home = enrolled_home(tmp_path, site)
    outbox_of(home).put_many([reading(f"KEPT-{n}") for n in range(3)])
    point_agent_at(home, hostile.url)
    hostile.routes["/v1/ingest"] = Reply(400, {"error": "invalid document", "detail": "bad\x1b[2J value\nforged",
                                               "field": "readings[0].collected_at"})
    result = poll_upload(home, snmpsim)
    assert result.returncode == 1
    assert "1 reading set aside, the other 3 kept" in one_line(result.stderr)  # the newline did not split it
    assert "\x1b" not in result.stderr and "bad\\x1b[2J value forged" in result.stderr
    outbox = outbox_of(home)
    assert (len(outbox), outbox.rejected()) == (3, 1)
    assert [q.document["identity"]["serial"] for q in outbox.peek(2)] == ["KEPT-1", "KEPT-2"]
    with sqlite3.connect(outbox.path) as conn:
        (set_aside,) = conn.execute("SELECT document FROM rejected").fetchone()
    assert json.loads(set_aside)["identity"]["serial"] == "KEPT-0"


# -- a total deadline and a size cap on every answer ----------------------------------------------------------

def test_a_trickling_server_is_cut_off_at_the_deadline(site, hostile, snmpsim, tmp_path):
    home = enrolled_home(tmp_path, site)
    point_agent_at(home, hostile.url)
    hostile.routes["/v1/ingest"] = Reply(200, {"received": 1, "stored": 1, "duplicates": 0}, trickle_s=0.5)
    result = poll_upload(home, snmpsim, FLEETMETER_HTTP_DEADLINE="3")
    assert result.returncode == 2
    assert "no complete answer from" in one_line(result.stderr) and "within 3 s" in result.stderr
    (upload,) = [r for r in hostile.received if r.path == "/v1/ingest"]
    wait_until(lambda: upload.ended is not None, timeout=10)  # the server sees the hang-up at its next byte
    assert upload.ended - upload.started < 3 + 2  # the agent hung up at 3 s, not at the end of the trickle
    assert len(outbox_of(home)) == 1


def peak_rss(home: Path, *args: str) -> tuple[int, str, int]:
    """Run the agent CLI; its exit code, stderr and peak resident memory in bytes (its own, from wait4)."""
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli", *args], env=environment(home),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting again
    return proc.returncode, stderr, usage.ru_maxrss * 1024


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "until-close"])
def test_a_huge_upload_answer_is_refused_without_reading_it(site, hostile, snmpsim, tmp_path, declared):
    home = enrolled_home(tmp_path, site)
    point_agent_at(home, hostile.url)
    poll = ("poll", snmpsim.host, "--port", str(snmpsim.port), "--community", COMMUNITY)
    code, stderr, baseline = peak_rss(home, *poll)  # the same poll without an upload
    assert code == 0, stderr
    hostile.routes["/v1/ingest"] = Reply(200, huge=HUGE, declared=declared)
    code, stderr, peak = peak_rss(home, *poll, "--upload")
    assert code == 2
    assert "is larger than 64 KiB; refused" in one_line(stderr)
    assert hostile.sent_bytes < 32 * 1024 * 1024  # the agent hung up; the server could not push the rest
    assert peak < baseline + 32 * 1024 * 1024, f"agent peaked at {peak >> 20} MB, {baseline >> 20} MB without"
    assert len(outbox_of(home)) == 1


def test_a_huge_enrolment_answer_is_refused(hostile, tmp_path):
    hostile.routes["/v1/enroll"] = Reply(201, huge=HUGE)
    home = tmp_path / "home"
    result = cli(home, "enroll", "--server", hostile.url, "--key", "k" * 32)
    assert result.returncode == 2
    assert "is larger than 256 KiB; refused" in one_line(result.stderr)
    assert not (home / "agent" / "data" / "certs" / "enrolment.json").exists()
    assert hostile.sent_bytes < 32 * 1024 * 1024


def test_a_huge_heartbeat_answer_is_not_read_or_cached(site, hostile, tmp_path):
    home = enrolled_home(tmp_path, site)
    (home / "agent" / "config").mkdir(parents=True, exist_ok=True)
    (home / "agent" / "config" / "agent.toml").write_text('heartbeat = "1s"\nusb = false\n[schedules.alerts]\n'
                                                          'enabled = false\n[schedules.supplies]\nenabled = false\n'
                                                          '[schedules.meters]\nenabled = false\n'
                                                          '[schedules.discovery]\nenabled = false\n')
    point_agent_at(home, hostile.url)
    hostile.routes["/v1/heartbeat"] = Reply(200, huge=HUGE)
    agent = AgentProcess(home)
    agent.start()
    try:
        agent.wait_for(r"heartbeat failed: the answer from \S+/v1/heartbeat is larger than 4096 KiB", count=2)
        peak = next(int(line.split()[1]) for line in Path(f"/proc/{agent.proc.pid}/status").read_text().splitlines()
                    if line.startswith("VmHWM:")) * 1024
        assert peak < HUGE / 2, f"service peaked at {peak >> 20} MB"  # the answer is 200 MB
        assert not (home / "agent" / "data" / "remote-config.sealed").exists()
        assert hostile.sent_bytes < 64 * 1024 * 1024  # two refused answers, each cut short
    finally:
        assert agent.stop() == 0


# -- a server configuration of the wrong type ----------------------------------------------------------------

GOOD = {**QUIET, "thresholds": {"supply_low_percent": 17}}
BAD = ["oops", [1, 2], {"schedules": "oops"}, {"credentials": 5}, {**QUIET, "heartbeat": [1]}]


def heartbeats_with(hostile: HostileServer, version: str) -> list[dict]:
    return [body["agent"] for body in hostile.bodies("/v1/heartbeat")
            if (body["agent"].get("config_refused") or {}).get("version") == version]


def wait_until(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_a_bad_server_configuration_is_refused_reported_and_the_good_one_kept(site, hostile, tmp_path):
    home = enrolled_home(tmp_path, site)
    point_agent_at(home, hostile.url)
    hostile.routes["/v1/heartbeat"] = configuration(GOOD)
    data = home / "agent" / "data"
    cached = ConfigStore(data, home / "agent" / "config", Vault(data))
    agent = AgentProcess(home)
    agent.start()
    try:
        agent.wait_for("service started")
        assert cached.remote() == GOOD
        for bad in BAD:
            hostile.routes["/v1/heartbeat"] = configuration(bad)
            wait_until(lambda: len(heartbeats_with(hostile, document_version(bad))) >= 1)
            refused = heartbeats_with(hostile, document_version(bad))[-1]["config_refused"]
            assert refused["error"] and "\n" not in refused["error"]
            assert agent.proc.poll() is None and cached.remote() == GOOD
        assert len(agent.wait_for(r"server configuration [0-9a-f]+ refused, keeping")) == len(BAD)
        last = hostile.bodies("/v1/heartbeat")[-1]
        assert last["config_version"] == document_version(GOOD)
    finally:
        assert agent.stop() == 0
    agent.start()  # a restart while the server still sends the bad one: the cached good one applies
    try:
        before = len(hostile.bodies("/v1/heartbeat"))
        wait_until(lambda: len(hostile.bodies("/v1/heartbeat")) > before + 1)
        later = hostile.bodies("/v1/heartbeat")[before + 1:]
        assert all(body["config_version"] == document_version(GOOD) for body in later)
        assert all(body["agent"]["config_refused"]["version"] == document_version(BAD[-1]) for body in later)
        hostile.routes["/v1/heartbeat"] = configuration(QUIET)  # a good one again: taken, nothing refused
        wait_until(lambda: cached.remote() == QUIET)
        wait_until(lambda: "config_refused" not in hostile.bodies("/v1/heartbeat")[-1]["agent"])
    finally:
        assert agent.stop() == 0


def test_a_bad_cached_configuration_from_an_older_agent_does_not_stop_start_up(tmp_path):
    home = tmp_path / "home"
    data, config = home / "agent" / "data", home / "agent" / "config"
    config.mkdir(parents=True)
    (config / "agent.toml").write_text("usb = false\n")  # no schedules here: they come from the cache
    ConfigStore(data, config, Vault(data)).save_remote({"schedules": "oops"})  # as an older agent cached it
    agent = AgentProcess(home)
    agent.start()
    try:
        agent.wait_for("cached server configuration .* cannot be used")
        agent.wait_for("service started")
    finally:
        assert agent.stop() == 0


@pytest.mark.parametrize("kind", DATABASES)
def test_the_server_accepts_a_heartbeat_that_reports_a_refusal(tmp_path, kind):
    real = start_site(kind, tmp_path / "site", Limits())
    try:
        from agent.certs.enroll import enrol

        store = CertStore(tmp_path / "certs")
        enrol(store, real.url, real.new_key().key)
        answer = send_heartbeat(store, 0, {}, None, {"version": "0123456789abcdef", "error": "schedules: oops"})
        assert answer.state == "connected" and isinstance(answer.config, dict)
    finally:
        stop_site(real)


# -- the agent's files are its user's alone -----------------------------------------------------------------

def test_agent_files_are_private_whatever_the_umask(site, snmpsim, tmp_path):
    home = enrolled_home(tmp_path, site, umask=0o022)
    name = agent_name(home)
    quiet = {**QUIET, "schedules": {**QUIET["schedules"], "discovery": {"enabled": True, "cron": "0 1 * * *"}}}
    with site.engine.begin() as conn:  # the server's configuration for it: cached sealed by the agent
        for key, value in quiet.items():
            remote_config.set_entry(conn, "agent", name, key, value)
    upload = cli(home, "poll", snmpsim.host, "--port", str(snmpsim.port), "--community", COMMUNITY, "--upload",
                 umask=0o022)
    assert upload.returncode == 0, upload.stderr
    found = cli(home, "discover", snmpsim.host, "--port", str(snmpsim.port), "--community", COMMUNITY, "--json",
                umask=0o022)
    assert found.returncode == 0, found.stderr
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "run", "--quiet"], env=environment(home),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, umask=0o022)
    agent = AgentProcess(home)
    agent.proc = proc
    try:
        agent.wait_for("service started")
        agent.wait_for("discovery: ")
        # while it runs (the control socket exists only then)
        written = {p: stat.S_IMODE(p.stat().st_mode) for p in (home / "agent").rglob("*")}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    names = {p.name for p in written}
    assert {"outbox.db", "agent.log", "key.pem", "enrolment.json", "last-upload.json", "remote-config.sealed",
            "schedule-state.json", CONTROL_SOCKET, DISCOVERY_STORE} <= names, names
    public = {str(p.relative_to(home)): oct(mode) for p, mode in written.items() if mode & 0o077}
    assert not public


# -- backoff ------------------------------------------------------------------------------------------------

def test_backoff_waits_between_the_floor_and_the_capped_exponential():
    floor, cap = 2.0, 20.0
    ceilings = []
    for _ in range(400):
        backoff = Backoff(floor, cap)
        for n in range(1, 8):
            ceiling = min(cap, floor * 2 ** n)
            delay = backoff.next_delay()
            assert floor <= delay <= ceiling
            ceilings.append((n, delay))
    first = [delay for n, delay in ceilings if n == 1]
    assert max(first) - min(first) > 0.8 * floor  # the first retries of agents that failed together spread out
    late = [delay for n, delay in ceilings if n == 7]
    assert max(late) > 0.9 * cap and min(late) < floor + 0.1 * (cap - floor)  # the whole range, capped
    backoff = Backoff(floor, cap)
    for _ in range(200):  # a long outage never overflows or passes the cap
        assert floor <= backoff.next_delay() <= cap
    backoff.reset()
    assert backoff.next_delay() <= 2 * floor
