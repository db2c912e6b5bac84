"""The service's parts on their own: outbox durability under kill -9 and its disk bound, the vault and the
configuration layers, schedules (catch-up, backoff), agent states and stopped-reporting alerts on the
server (SQLite and PostgreSQL, over HTTP), and the systemd packaging."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from agent.home import AgentPaths
from agent.outbox import Outbox
from agent.remote import send_heartbeat
from agent.scheduler.config import DEFAULTS, ConfigError, ConfigStore, Schedule, build, merge
from agent.scheduler.service import Backoff, Service
from agent.vault import Vault, VaultError
from server_stub.fleet import remote_config as agent_config
from server_stub.fleet import state as heartbeat
from server_stub.api.app import Limits
from service_peers import AgentProcess
from trust_peers import DATABASES, environment, in_transaction, start_site, stop_site

WRITER = """
import sys
from pathlib import Path
from agent.outbox import Outbox
box, start = Outbox(Path(sys.argv[1])), int(sys.argv[2])
for seq in range(start, start + 1_000_000):
    box.put({"seq": seq, "pad": "x" * 2000}, ("meters", "supplies", "alerts")[seq % 3])
    print(seq, flush=True)  # acknowledged: put() returned, the row is committed
"""


def run_writer(path: Path, start: int, acks: int) -> list[int]:
    """Start a writer, read `acks` acknowledgements, then SIGKILL it mid-stream."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(start)], stdout=subprocess.PIPE,
                            text=True, env=environment(path.parent))
    acked = [int(proc.stdout.readline()) for _ in range(acks)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    acked += [int(line) for line in proc.stdout.read().split()]  # acks already in the pipe
    return acked


def test_outbox_kill9_mid_write_loses_nothing_acknowledged_and_restart_resumes(tmp_path):
    path = tmp_path / "outbox.db"
    first = run_writer(path, 0, 300)
    box = Outbox(path)
    seqs = [item.document["seq"] for item in box.peek(100_000)]
    assert set(first) <= set(seqs), "an acknowledged reading was lost"
    assert len(seqs) == len(set(seqs)), "a reading was stored twice"
    second = run_writer(path, max(seqs) + 1, 200)
    seqs = [item.document["seq"] for item in Outbox(path).peek(100_000)]
    assert set(first) | set(second) <= set(seqs)
    assert seqs == list(range(len(seqs))), "gaps or duplicates after the restart"
    with __import__("sqlite3").connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_outbox_bound_drops_supplies_then_alerts_and_meters_last(tmp_path):
    box = Outbox(tmp_path / "outbox.db", max_bytes=10_000)
    doc = {"pad": "x" * 900}  # ~ 911 bytes each
    box.put_many([doc] * 4, "meters")
    box.put_many([doc] * 4, "alerts")
    box.put_many([doc] * 4, "supplies")
    dropped = box.enforce_limit()
    assert dropped.counts == {"supplies": 2, "alerts": 0, "meters": 0} and box.queued_bytes() <= 10_000
    box.put_many([doc] * 6, "meters")
    dropped = box.enforce_limit()
    assert dropped.counts == {"supplies": 2, "alerts": 4, "meters": 0}  # meters untouched while others remain
    assert box.counts() == {"supplies": 0, "alerts": 0, "meters": 10}
    assert str(dropped) == "2 supplies, 4 alerts"
    oldest = box.peek(1)[0].id
    box.put_many([doc] * 2, "meters")
    assert box.enforce_limit().counts["meters"] == 2 and box.peek(1)[0].id > oldest  # only when nothing else is left
    assert box.queued_bytes() <= 10_000


def test_outbox_from_before_kinds_keeps_its_readings_as_meters(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, document TEXT NOT NULL, "
                     "queued_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)")
        conn.execute("INSERT INTO outbox (document) VALUES ('{\"a\": 1}')")
    box = Outbox(path)
    assert box.counts()["meters"] == 1 and box.queued_bytes() == len('{"a": 1}')


def test_vault_seals_and_refuses_tampering(tmp_path):
    vault = Vault(tmp_path)
    sealed = vault.seal(b"community-s3cret")
    assert b"s3cret" not in sealed and oct((tmp_path / "vault.key").stat().st_mode & 0o777) == "0o600"
    assert Vault(tmp_path).open(sealed) == b"community-s3cret"
    with pytest.raises(VaultError, match="does not open"):
        Vault(tmp_path).open(sealed[:-4] + b"AAA=")
    (tmp_path / "vault.key").unlink()
    with pytest.raises(VaultError):
        Vault(tmp_path).open(sealed)


def test_configuration_layers_local_file_wins_and_errors_name_the_key(tmp_path):
    store = ConfigStore(tmp_path / "data", tmp_path / "config", Vault(tmp_path / "data"))
    (tmp_path / "config").mkdir()
    store.save_remote({"schedules": {"alerts": {"interval": "10m"}}, "ranges": ["10.0.0.0/30"]})
    (tmp_path / "config" / "agent.toml").write_text('[schedules.alerts]\ninterval = "2m"\n')
    config = store.effective()
    assert config.schedules["alerts"] == Schedule("alerts", True, interval_s=120)
    assert config.schedules["meters"].cron == DEFAULTS["schedules"]["meters"]["cron"]
    assert config.ranges[0].entries == ("10.0.0.0/30",)
    for bad, key in (({"ranges": ["10.0.0.0/8"]}, "split it"), ({"heartbeat": "soon"}, "heartbeat"),
                     ({"ranges": [{"range": "10.0.0.1", "credentials": ["nope"]}]}, "no credential named"),
                     ({"credentials": [{"version": "3"}]}, r"credentials\[0\]: SNMPv3 needs a user")):
        with pytest.raises(ConfigError, match=key):
            build(merge(DEFAULTS, bad))


def test_missed_runs_are_caught_up_at_start_and_backoff_grows_with_jitter(tmp_path):
    paths = AgentPaths(tmp_path / "c", tmp_path / "d", tmp_path / "l", tmp_path / "k")
    service = Service(paths)
    now = datetime.now(timezone.utc)
    daily = Schedule("meters", True, cron="0 2 * * *")
    assert service._first_run(daily) - now < timedelta(seconds=5)  # never ran: now
    service.last_runs["meters"] = (now - timedelta(days=2)).timestamp()
    assert service._first_run(daily) - now < timedelta(seconds=5)  # missed while down: now
    service.last_runs["meters"] = now.timestamp()
    assert service._first_run(daily) > now + timedelta(minutes=1)  # ran: next 02:00
    hourly = Schedule("supplies", True, interval_s=3600)
    service.last_runs["supplies"] = (now - timedelta(minutes=20)).timestamp()
    assert timedelta(minutes=39) < service._first_run(hourly) - now < timedelta(minutes=41)
    backoff = Backoff(1, 60)
    delays = [backoff.next_delay() for _ in range(12)]
    assert all(1 <= d <= 60 for d in delays) and max(delays[6:]) > 8 and len(set(delays)) > 6
    backoff.reset()
    assert backoff.next_delay() <= 2


@pytest.fixture(scope="module", params=DATABASES)
def site(request, tmp_path_factory):
    running = start_site(request.param, tmp_path_factory.mktemp(f"states-{request.param}"),
                         Limits(rate_per_minute=0))
    yield running
    stop_site(running)


def server_json(site, home: Path, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "server_stub.cli", *args, "--db", site.db.url, "--json"],
                          env=environment(home), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_agent_states_and_stopped_reporting_alerts(site, tmp_path):
    """New, connected, ambiguous (network and USB parts disagree), disconnected; alerts at 7 and 30 days."""
    names = {state: f"{state}-{site.db.kind}" for state in ("new", "connected", "ambiguous", "silent")}
    site.new_key(names["new"])
    stores = {}
    for state in ("connected", "ambiguous", "silent"):
        agent = AgentProcess(tmp_path / state)
        agent.enrol(site, names[state])
        stores[state] = agent
    at = datetime.now(timezone.utc).isoformat()
    from agent.certs.store import CertStore

    def beat(state: str, parts: dict) -> str:
        store = CertStore(tmp_path / state / "agent" / "data" / "certs")
        return send_heartbeat(store, 0, parts, None).state

    assert beat("connected", {"network": {"ok": True, "at": at}, "usb": {"ok": True, "at": at}}) == "connected"
    assert beat("ambiguous", {"network": {"ok": True, "at": at},
                              "usb": {"ok": False, "at": at, "detail": "no libusb"}}) == "ambiguous"
    assert beat("silent", {"network": {"ok": True, "at": at}}) == "connected"

    def silent_for(days: float) -> None:
        with site.engine.begin() as conn:
            conn.execute(text("UPDATE agents SET last_seen_at = :t WHERE name = :n"),
                         {"t": datetime.now(timezone.utc) - timedelta(days=days), "n": names["silent"]})

    silent_for(8)
    states = {a["name"]: a["connection"] for a in server_json(site, tmp_path, "agents", "list")["agents"]}
    assert [states[names[s]] for s in ("new", "connected", "ambiguous", "silent")] == \
        ["new", "connected", "ambiguous", "disconnected"]
    alerts = server_json(site, tmp_path, "alerts", "list")["alerts"]
    assert [(a["agent"], a["kind"]) for a in alerts] == [(names["silent"], "stopped_reporting")]
    assert "stopped reporting" in alerts[0]["message"] and "8 days" in alerts[0]["message"]

    def kinds(include_cleared: bool = False) -> list[str]:
        in_transaction(site, heartbeat.raise_silence_alerts)
        return sorted(a.kind for a in in_transaction(site, heartbeat.list_alerts, include_cleared))

    assert kinds() == ["stopped_reporting"]  # raised once
    silent_for(31)
    assert kinds() == ["stopped_reporting", "stopped_reporting_final"]
    beat("silent", {"network": {"ok": True, "at": at}})  # reporting again clears them
    assert kinds() == [] and len(kinds(include_cleared=True)) == 2

    # the thresholds are settings: a 1-day stop alert and a 1-minute disconnection
    in_transaction(site, agent_config.set_entry, "global", "", "server.stopped_reporting_after", "1d")
    in_transaction(site, agent_config.set_entry, "global", "", "server.disconnected_after", "1m")
    silent_for(1.5)
    assert kinds() == ["stopped_reporting"]
    assert in_transaction(site, heartbeat.agent_states)[names["silent"]][0] == "disconnected"
    with pytest.raises(agent_config.ConfigProblem):
        in_transaction(site, agent_config.set_entry, "client", "Acme", "server.disconnected_after", "1m")
    for key, value, message in (("schedules.meters.cron", "every day", "not a crontab"),
                                ("ranges", ["10.0.0.0/8"], "split it"), ("heartbeat", "soon", "duration"),
                                ("credentials", [{"version": "3"}], "needs a user")):
        with pytest.raises(agent_config.ConfigProblem, match=message):  # the agent's own checks, before storing
            in_transaction(site, agent_config.set_entry, "client", "Acme", key, value)
    for key in ("server.stopped_reporting_after", "server.disconnected_after"):
        in_transaction(site, agent_config.unset_entry, "global", "", key)


def test_service_install_dry_run_and_unit(tmp_path):
    unit_file = Path("/etc/systemd/system/fleetmeter-agent.service")
    existed = unit_file.exists()
    done = subprocess.run([sys.executable, "-m", "agent.cli", "service", "install", "--dry-run"],
                          env=environment(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "systemctl enable --now fleetmeter-agent.service" in done.stdout
    assert f"ExecStart={sys.executable} -m agent.cli run --quiet" in done.stdout
    for hardening in ("NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory=fleetmeter", "User=fleetmeter",
                      "CapabilityBoundingSet=\n", "PrivateTmp=yes", "UMask=0077"):
        assert hardening in done.stdout
    assert unit_file.exists() == existed  # a dry run changes nothing
    removed = subprocess.run([sys.executable, "-m", "agent.cli", "service", "uninstall", "--dry-run", "--purge"],
                             env=environment(tmp_path), capture_output=True, text=True, timeout=60)
    assert "systemctl disable --now fleetmeter-agent.service" in removed.stdout
    assert "rm -rf /var/lib/fleetmeter" in removed.stdout


def test_systemd_unit_verifies(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    from agent.install.linux import UNIT_NAME, render_unit

    unit = tmp_path / UNIT_NAME
    unit.write_text(render_unit())
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if UNIT_NAME in line]
    assert done.returncode == 0 and complaints == [], done.stdout + done.stderr
    broken = tmp_path / "broken" / UNIT_NAME
    broken.parent.mkdir()
    broken.write_text(render_unit().replace("NoNewPrivileges=yes", "NoNewPrivileges=maybe"))
    done = subprocess.run(["systemd-analyze", "verify", str(broken)], capture_output=True, text=True, timeout=60)
    assert "Failed to parse boolean value" in done.stdout + done.stderr  # the check can fail


def test_scan_now_refuses_other_users_and_stale_sockets(tmp_path):
    from agent.scheduler.control import ControlError, request

    (tmp_path / "data").mkdir()
    with pytest.raises(ControlError, match="not running"):
        request(tmp_path / "data", {"command": "status"}, 2)
    import socket as socketlib

    stale = socketlib.socket(socketlib.AF_UNIX)
    stale.bind(str(tmp_path / "data" / "control.sock"))
    stale.close()
    with pytest.raises(ControlError, match="stale"):
        request(tmp_path / "data", {"command": "status"}, 2)


def test_uploads_honour_https_proxy_and_no_proxy(monkeypatch):
    from agent.certs.transport import proxy_for

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert proxy_for("https://fleet.dealer.example", None) == "http://proxy.internal:3128"
    assert proxy_for("https://fleet.dealer.example", "http://given:8080") == "http://given:8080"  # enrolment wins
    monkeypatch.setenv("NO_PROXY", "fleet.dealer.example")
    assert proxy_for("https://fleet.dealer.example", None) is None


def test_service_discovery_sweeps_for_printers_only(local_sim):
    """The service's discovery job uses the network sweep: a printer becomes a target with the credential
    that answered; a switch answering the same sweep is not inspected."""
    import asyncio

    from agent.scheduler.targets import ScanOptions, sweep_printers
    from agent.snmp.credentials import Credentials

    entry = [f"{local_sim.host}:{local_sim.port}"]
    options = ScanOptions(timeout=1.0, retries=1, concurrency=8)
    printer = Credentials(community="demo-color-mfp")
    found = asyncio.run(sweep_printers(entry, [Credentials(community="no-such"), printer], options))
    assert [(t.host, t.port, t.credentials) for t in found] == [(local_sim.host, local_sim.port, printer)]
    assert asyncio.run(sweep_printers(entry, [Credentials(community="network-switch")], options)) == []


@pytest.mark.skipif(not hasattr(__import__("socket"), "SO_PEERCRED"), reason="SO_PEERCRED is Linux-only")
def test_control_socket_refuses_another_uid_even_when_it_can_connect(tmp_path):
    """The socket file is 0600 in a 0700 directory; behind that, the service checks the peer's uid
    (SO_PEERCRED). With the file opened up, a client of another uid connects and is refused, while
    the service's own user is served."""
    import asyncio
    import threading

    from agent.scheduler.control import ControlError, ControlServer, request
    from other_user import run_as

    data = tmp_path / "data"
    loop = asyncio.new_event_loop()
    served: list[dict] = []

    async def handler(message: dict) -> dict:
        served.append(message)
        return {"ok": True, "queued": 0}

    server = ControlServer(data, handler)
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        for path in (tmp_path, data, data / "control.sock"):
            os.chmod(path, 0o777)  # the file-system guard opened up: only the uid check stands
        for parent in tmp_path.parents[:2]:  # pytest's per-user temp directories are 0700
            parent.chmod(parent.stat().st_mode | 0o005)

        def as_other() -> dict | str:
            try:
                return request(data, {"command": "status"}, 5)
            except ControlError as exc:
                return str(exc)

        assert run_as(as_other, uid=4242, gid=4242) == {"ok": False, "error": "not allowed"}
        assert served == [], "the other user's request never reached the service"
        assert request(data, {"command": "status"}, 5) == {"ok": True, "queued": 0}
        assert served == [{"command": "status"}]
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
