"""The server's side of the hardening issue (#16), through the real processes: `fleetmeter-server init` and two
`serve` processes sharing one database (SQLite file or PostgreSQL), HTTP on 127.0.0.1, the real CLI.

Covers: private data directory and SQLite files; credentials encrypted at rest (and sealed by init when found
in clear); chunked bodies capped while received; duplicate JSON keys refused; heartbeat and enrolment rate
limits shared by the serve processes; a nonce refused with 429 stays used; an agent's refused configuration
stored, listed and alerted; control characters escaped in the CLI's tables.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from agent.certs.enroll import enrol
from agent.certs.store import CertStore
from agent.outbox import Outbox
from agent.upload import heartbeat as agent_info
from fleetmeter_contract.reading import DeviceReading, Identity
from trust_peers import DATABASES, Agent, Database, environment, free_tcp_port, send

SERVER = [sys.executable, "-m", "server_stub.cli"]
MAX_BODY = 1024 * 1024
LIMITS = ["--max-body", str(MAX_BODY), "--rate-limit", "1", "--heartbeat-limit", "3"]
COMMUNITY = "c0mm-Secret-7731"
AUTH_KEY, PRIV_KEY = "authKey-Secret-4410", "privKey-Secret-9925"


def cli(env: dict, *args: str, expect: int = 0, stdin: str | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(SERVER + list(args), env=env, capture_output=True, text=True, input=stdin, timeout=120)
    assert done.returncode == expect, f"{args} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done


class Serve:
    """One `fleetmeter-server serve` process."""

    def __init__(self, env: dict, log: Path, *extra: str, umask: int | None = None) -> None:
        self.port = free_tcp_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        preexec = (lambda: os.umask(umask)) if umask is not None else None
        self.proc = subprocess.Popen(SERVER + ["serve", "--port", str(self.port), "--log-level", "warning", *extra],
                                     env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, preexec_fn=preexec)
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(self.url + "/healthz", timeout=1)
                return
            except requests.ConnectionError:
                assert self.proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)

    def peak_rss_kib(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class Deployment:
    def __init__(self, kind: str, work: Path) -> None:
        self.kind, self.work = kind, work
        self.db = Database(kind, work)
        self.env = environment(work / "home", FLEETMETER_DB=self.db.url)
        cli(self.env, "init")
        self.a = Serve(self.env, work / "a.log", *LIMITS, "--enrol-limit", "0")
        self.b = Serve(self.env, work / "b.log", *LIMITS, "--enrol-limit", "7")
        self.engine = create_engine(self.db.url)
        self.count = 0

    def agent(self, client: str = "Acme") -> Agent:
        self.count += 1
        name = f"hard-{self.count}"
        key = json.loads(cli(self.env, "agents", "add", name, "--client", client, "--json").stdout)["key"]
        store = CertStore(self.work / name / "certs")
        enrol(store, self.a.url, key, allow_http=True)
        return Agent(store, Outbox(self.work / name / "outbox.db"), name)

    def stop(self) -> None:
        self.a.stop()
        self.b.stop()
        self.engine.dispose()
        self.db.drop()


@pytest.fixture(scope="module", params=DATABASES)
def site(request, tmp_path_factory):
    deployment = Deployment(request.param, tmp_path_factory.mktemp(f"hardening-{request.param}"))
    yield deployment
    deployment.stop()


def beat_body(hostname: str | None = None, refused: dict | None = None) -> bytes:
    info = agent_info("http://127.0.0.1", 0)
    if hostname is not None:
        info["hostname"] = hostname
    if refused is not None:
        info["config_refused"] = refused
    return json.dumps({"agent": info, "parts": {}}).encode()


def heartbeat(agent: Agent, url: str, body: bytes | None = None) -> requests.Response:
    return send(agent.signed(url, body or beat_body(), path="/v1/heartbeat"))


def reading(serial: str, model: str = "MP C3002", location: str | None = None) -> dict:
    return DeviceReading(address="10.0.0.36", port=161, collected_at="2026-11-22T10:00:00Z", is_printer=True,
                         identity=Identity(serial=serial, manufacturer="Ricoh", model=model,
                                           location=location)).to_json()


# --- credentials encrypted at rest --------------------------------------------------------------------------

def stored_bytes(site: Deployment) -> bytes:
    """Everything the database holds: the SQLite file and its WAL, or every config row as PostgreSQL has it."""
    if site.kind == "sqlite":
        path = Path(site.db.url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    with site.engine.connect() as conn:
        return "\n".join(str(row) for row in conn.execute(text("SELECT * FROM config_entries"))).encode()


def test_credentials_are_encrypted_at_rest_masked_when_shown_and_sent_in_clear_to_their_agent(site):
    agent = site.agent()
    credentials = [{"name": "lan", "version": "2c", "community": COMMUNITY},
                   {"name": "v3", "version": "3", "user": "fleet", "auth_proto": "SHA256", "auth_key": AUTH_KEY,
                    "priv_proto": "AES", "priv_key": PRIV_KEY}]
    cli(site.env, "config", "set", "--agent", agent.name, "credentials", "-", stdin=json.dumps(credentials))
    cli(site.env, "config", "set", "--agent", agent.name, "schedules.meters.interval", "2h")
    with site.engine.connect() as conn:
        stored = conn.execute(text("SELECT value FROM config_entries WHERE target = :t AND key = 'credentials'"),
                              {"t": agent.name}).scalar()
    assert set(json.loads(stored) if isinstance(stored, str) else stored) == {"sealed"}
    raw = stored_bytes(site)
    for secret in (COMMUNITY, AUTH_KEY, PRIV_KEY):
        assert secret.encode() not in raw
    shown = cli(site.env, "config", "show", "--agent", agent.name, "--json").stdout
    assert not any(secret in shown for secret in (COMMUNITY, AUTH_KEY, PRIV_KEY))
    effective = json.loads(shown)["effective"]["credentials"]
    assert [c.get("user") for c in effective] == [None, "fleet"] and effective[0]["community"] == "***"

    for server in (site.a, site.b):  # every serve process opens them with the key beside the CA
        answer = heartbeat(agent, server.url)
        assert answer.status_code == 200, answer.text
        assert answer.json()["config"]["credentials"] == credentials

    key_file = site.work / "home" / "server" / "data" / "ca" / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_init_encrypts_credentials_stored_in_clear_before(site):
    agent = site.agent()
    plain = [{"name": "old", "version": "2c", "community": COMMUNITY + "-old"}]
    with site.engine.begin() as conn:  # as a server before encryption at rest left them
        conn.execute(text("INSERT INTO config_entries (scope, target, key, value, updated_at) "
                          "VALUES ('agent', :t, 'credentials', " + ("CAST(:v AS json)" if site.kind == "postgresql"
                                                                     else ":v") + ", CURRENT_TIMESTAMP)"),
                     {"t": agent.name, "v": json.dumps(plain)})
    assert (COMMUNITY + "-old").encode() in stored_bytes(site)
    done = cli(site.env, "init")
    assert "1 credential entry stored in clear now encrypted" in done.stdout
    with site.engine.connect() as conn:
        value = conn.execute(text("SELECT value FROM config_entries WHERE target = :t"), {"t": agent.name}).scalar()
    assert COMMUNITY not in str(value)
    assert heartbeat(agent, site.a.url).json()["config"]["credentials"] == plain


# --- body cap, duplicate keys ---------------------------------------------------------------------------------

def chunked_post(url: str, path: str, total: int, chunk: int = 256 * 1024) -> tuple[int, int]:
    """Stream `total` bytes as a chunked body; (HTTP status of the answer, bytes sent before it came)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n".encode())
    piece = f"{chunk:x}\r\n".encode() + b"[" * chunk + b"\r\n"
    sent = 0
    try:
        while sent < total and not select.select([sock], [], [], 0)[0]:  # until the server answers
            sock.sendall(piece)
            sent += chunk
        if sent >= total:
            sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = b""
    try:
        while b"\r\n" not in answer:
            data = sock.recv(4096)
            if not data:
                break
            answer += data
    except ConnectionResetError:
        pass
    sock.close()
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1") else 0, sent


@pytest.mark.parametrize("path", ["/v1/enroll", "/v1/heartbeat", "/v1/ingest"])
def test_chunked_body_over_the_cap_is_refused_while_received(site, path):
    if site.kind != "sqlite":
        pytest.skip("no storage involved: once is enough")
    before = site.a.peak_rss_kib()
    status, sent = chunked_post(site.a.url, path, 200 * 1024 * 1024)
    assert status == 413
    grown_mib = (site.a.peak_rss_kib() - before) / 1024
    print(f"{path}: {sent / 2**20:.0f} MiB sent before the answer; server peak RSS grew {grown_mib:.1f} MiB")
    assert grown_mib < 32  # the cap is 1 MiB; the body was 200 MiB
    assert requests.get(site.a.url + "/healthz", timeout=5).status_code == 200


def test_duplicate_json_keys_are_refused_on_every_endpoint(site):
    agent = site.agent()
    enrol_body = b'{"key": "fmk_first", "csr": "x", "key": "fmk_second"}'
    answer = requests.post(site.a.url + "/v1/enroll", data=enrol_body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["field"] == "key", answer.text

    doc = json.dumps(reading("DUP-1"))
    twice = doc.replace('"serial": "DUP-1"', '"serial": "DUP-1", "serial": "DUP-2"')
    assert twice != doc
    body = json.dumps({"agent": agent_info("http://127.0.0.1", 0), "readings": []}).encode()
    body = body.replace(b'"readings": []', b'"readings": [' + twice.encode() + b"]")
    answer = send(agent.signed(site.a.url, body))
    assert answer.status_code == 400 and answer.json()["field"] == "serial", answer.text
    with site.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM readings r JOIN agents a ON a.id = r.agent_id "
                                 "WHERE a.name = :n"), {"n": agent.name}).scalar() == 0

    beat = beat_body().replace(b'"agent": {', b'"agent": {"hostname": "first", ')
    answer = heartbeat(agent, site.a.url, beat)
    assert answer.status_code == 400 and answer.json()["field"] == "hostname", answer.text


# --- rate limits and nonces -----------------------------------------------------------------------------------

def test_heartbeats_are_limited_per_agent_across_serve_processes_and_a_429_nonce_stays_used(site):
    agent, other = site.agent(), site.agent()
    answers = [heartbeat(agent, server.url).status_code for server in (site.a, site.b, site.a)]
    assert answers == [200, 200, 200]
    refused = agent.signed(site.b.url, beat_body(), path="/v1/heartbeat")
    answer = send(refused)
    assert answer.status_code == 429 and 1 <= int(answer.headers["Retry-After"]) <= 60, answer.text
    assert heartbeat(other, site.b.url).status_code == 200  # per agent
    again = send(refused)  # the very same signed request: its nonce was used by the 429
    assert again.status_code == 401 and again.json()["error"] == "replayed request", again.text


def test_an_upload_refused_with_429_keeps_its_nonce_used(site):
    agent = site.agent()
    body = json.dumps({"agent": agent_info("http://127.0.0.1", 0), "readings": [reading("N-1")]}).encode()
    assert send(agent.signed(site.a.url, body)).status_code == 200
    refused = agent.signed(site.b.url, body)
    assert send(refused).status_code == 429
    again = send(refused)
    assert again.status_code == 401 and again.json()["error"] == "replayed request", again.text


def test_enrolment_attempts_are_limited_per_key_and_per_address(site):
    def attempt(key: str) -> requests.Response:
        return requests.post(site.b.url + "/v1/enroll", json={"key": key, "csr": "not a csr"}, timeout=10)

    if int(time.time()) % 60 > 50:  # keep the attempts in one minute's window
        time.sleep(61 - int(time.time()) % 60)
    tag = site.kind
    per_key = [attempt(f"fmk_guess-{tag}").status_code for _ in range(6)]
    assert per_key == [401] * 5 + [429]
    assert attempt(f"fmk_other-{tag}").status_code == 401  # 7th from this address: another key still tried
    answer = attempt(f"fmk_third-{tag}")  # the address's 7 per minute are used up
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) >= 1, answer.text
    assert "per address" in answer.json()["detail"]


# --- an agent's refused configuration -----------------------------------------------------------------------

def test_a_refused_configuration_is_stored_listed_alerted_and_cleared(site):
    agent = site.agent("Beta")
    refused = {"version": "0123456789abcdef", "error": "schedules: must be a table"}
    assert heartbeat(agent, site.a.url, beat_body(refused=refused)).status_code == 200

    [row] = [a for a in json.loads(cli(site.env, "agents", "list", "--json").stdout)["agents"]
             if a["name"] == agent.name]
    assert row["config_refused"] == refused
    human = cli(site.env, "agents", "list").stdout
    assert "REFUSED" in human and refused["error"] in human and refused["version"] in human
    alerts = [a for a in json.loads(cli(site.env, "alerts", "list", "--json").stdout)["alerts"]
              if a["agent"] == agent.name]
    assert [a["kind"] for a in alerts] == ["config_refused"] and refused["error"] in alerts[0]["message"]
    assert "config_refused" in cli(site.env, "alerts", "list").stdout

    assert heartbeat(agent, site.b.url).status_code == 200  # the agent accepted a later configuration
    [row] = [a for a in json.loads(cli(site.env, "agents", "list", "--json").stdout)["agents"]
             if a["name"] == agent.name]
    assert row["config_refused"] is None
    assert not [a for a in json.loads(cli(site.env, "alerts", "list", "--json").stdout)["alerts"]
                if a["agent"] == agent.name]
    cleared = [a for a in json.loads(cli(site.env, "alerts", "list", "--all", "--json").stdout)["alerts"]
               if a["agent"] == agent.name]
    assert [a["kind"] for a in cleared] == ["config_refused"] and cleared[0]["cleared_at"]


# --- terminal output --------------------------------------------------------------------------------------------

HOSTILE = "pwn\x1b[2J\x1b[H\nEVIL-ROW   forged\r\u202e"


def test_control_characters_are_escaped_in_cli_tables_and_stored_as_sent(site):
    agent = site.agent("Gamma")
    body = json.dumps({"agent": agent_info("http://127.0.0.1", 0),
                       "readings": [reading("SER-" + HOSTILE, model="MOD-" + HOSTILE, location=HOSTILE)]}).encode()
    assert send(agent.signed(site.a.url, body)).status_code == 200
    assert heartbeat(agent, site.a.url, beat_body(hostname="host-" + HOSTILE)).status_code == 200

    for command in (("agents", "list"), ("devices", "list")):
        out = cli(site.env, *command).stdout
        assert not any(ch in out for ch in "\x1b\r\u202e"), command
        assert "\\x1b[2J\\x1b[H\\nEVIL-ROW   forged\\r\\u202e" in out, out
        assert not any(line.startswith("EVIL-ROW") for line in out.splitlines())
    agents = json.loads(cli(site.env, "agents", "list", "--json").stdout)["agents"]
    assert [a["hostname"] for a in agents if a["name"] == agent.name] == ["host-" + HOSTILE]
    devices = json.loads(cli(site.env, "devices", "list", "--json").stdout)["devices"]
    assert [(d["serial"], d["model"]) for d in devices if d["agent"] == agent.name] == \
        [("SER-" + HOSTILE, "MOD-" + HOSTILE)]


# --- files ------------------------------------------------------------------------------------------------------

def test_data_directory_and_sqlite_files_are_private_whatever_the_umask(tmp_path):
    env = environment(tmp_path / "home")
    done = subprocess.run(SERVER + ["init"], env=env, capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: os.umask(0))
    assert done.returncode == 0, done.stderr
    data = tmp_path / "home" / "server" / "data"
    server = Serve(env, tmp_path / "serve.log", umask=0)
    try:
        cli(env, "agents", "add", "perm-1", "--client", "Acme")
        database = data / "fleetmeter.db"
        files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
        assert all(path.exists() for path in files), sorted(p.name for p in data.iterdir())
        modes = {path.name: oct(path.stat().st_mode & 0o777) for path in files}
        assert modes == {path.name: "0o600" for path in files}
        assert oct(data.stat().st_mode & 0o777) == "0o700"
        assert oct((data / "ca" / "secret.key").stat().st_mode & 0o777) == "0o600"
    finally:
        server.stop()
