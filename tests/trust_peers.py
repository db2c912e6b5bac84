"""Test peers for the trust spine: a database (SQLite file or a fresh PostgreSQL database) and the real
server (uvicorn on 127.0.0.1 in a thread), plus helpers to enrol agents and send signed requests."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
import uvicorn

from agent.certs.enroll import enrol
from agent.certs.signing import request_signer
from agent.certs.store import CertStore
from agent.outbox import Outbox
from peers import DATABASES  # noqa: F401  (re-exported: tests take it from here too)
from server_stub.trust import enrolment as registry
from server_stub.db import migrate
from server_stub.api.app import Limits, create_app
from server_stub.trust.ca import CertificateAuthority
from server_stub.db.engine import make_engine
from server_stub.db.tables import agents, readings
from server_stub.paths import ServerPaths
from server_stub.trust.secrets import KEY_FILE, ENV as SECRET_ENV, SecretBox

PG_ADMIN = "postgresql+psycopg:///postgres"


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_available() -> str | None:
    """None when usable, else why not (the suite fails on it rather than silently skipping)."""
    try:
        out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"pg_lsclusters: {exc}"
    if "online" not in out:
        return "PostgreSQL cluster is down; scripts/test.sh starts it (pg_ctlcluster 15 main start)"
    return None


class Database:
    """A SQLite file or a throwaway PostgreSQL database, with its URL."""

    def __init__(self, kind: str, work: Path) -> None:
        self.kind = kind
        if kind == "sqlite":
            self.url = f"sqlite:///{work / 'server.db'}"
            self.name = None
            return
        problem = postgres_available()
        if problem:
            pytest.fail(problem)
        import sqlalchemy

        self.name = f"fm_test_{secrets.token_hex(6)}"
        admin = sqlalchemy.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
        admin.dispose()
        self.url = f"postgresql+psycopg:///{self.name}"

    def drop(self) -> None:
        if self.name:
            import sqlalchemy

            admin = sqlalchemy.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            admin.dispose()


class LiveServer:
    """create_app() served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app, tls: tuple[Path, Path] | None = None) -> None:
        self.port = free_tcp_port()
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                ssl_certfile=str(tls[0]) if tls else None, ssl_keyfile=str(tls[1]) if tls else None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                pytest.fail("uvicorn did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class Site:
    """One server (CA, database, HTTP API) that tests enrol agents against."""

    db: Database
    paths: ServerPaths
    ca: CertificateAuthority
    engine: object
    live: LiveServer
    limits: Limits

    @property
    def url(self) -> str:
        return self.live.url

    def new_key(self, name: str | None = None, client: str = "Acme", valid_for=timedelta(days=1)) -> registry.NewKey:
        return in_transaction(self, registry.add_agent, name or f"agent-{secrets.token_hex(4)}", client, valid_for)

    def enrolled(self, work: Path, name: str | None = None, key_type: str = "ed25519") -> Agent:
        new = self.new_key(name)
        agent = Agent(CertStore(work / new.name / "certs"), Outbox(work / new.name / "outbox.db"), new.name)
        enrol(agent.store, self.url, new.key, key_type=key_type)
        return agent

    def count(self, sql: str, **params) -> int:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar_one()

    @property
    def box(self) -> SecretBox:
        """The site's secret key, for domain calls that store credentials (set_entry)."""
        return SecretBox.load(self.paths.ca_dir)

    @property
    def secret_env(self) -> dict[str, str]:
        """The environment that gives a CLI process this site's secret key (when its FLEETMETER_HOME differs)."""
        return {SECRET_ENV: (self.paths.ca_dir / KEY_FILE).read_text().strip()}

    def readings_of(self, agent: str) -> int:
        return self.count("SELECT count(*) FROM readings r JOIN agents a ON a.id = r.agent_id WHERE a.name = :n",
                          n=agent)

    def reading_keys(self, agent: str) -> list[tuple[str, datetime]]:
        """(device_key, collected_at), the idempotency key, of every reading stored for an agent."""
        from sqlalchemy import select

        query = (select(readings.c.device_key, readings.c.collected_at).join_from(readings, agents)
                 .where(agents.c.name == agent))
        with self.engine.connect() as conn:
            return [(key, at) for key, at in conn.execute(query)]


@dataclass
class Agent:
    store: CertStore
    outbox: Outbox
    name: str

    def signed(self, server_url: str, body: bytes, auth=None, path: str = "/v1/ingest") -> requests.PreparedRequest:
        """A signed POST, prepared but not sent (tests alter or resend it)."""
        enrolment = self.store.enrolment()
        auth = auth or request_signer(self.store, enrolment.fingerprint)
        request = requests.Request("POST", server_url + path, data=body,
                                   headers={"Content-Type": "application/json"}, auth=auth)
        return request.prepare()


def start_site(kind: str, work: Path, limits: Limits, tls: bool = False) -> Site:
    db = Database(kind, work)
    paths = ServerPaths(work / "server").ensure()
    ca = CertificateAuthority.create(paths.ca_dir, "Fleetmeter test CA")
    SecretBox.create_key_file(paths.ca_dir)
    engine = make_engine(db.url)
    migrate.upgrade(engine)
    tls_files = ca.create_tls(paths.ca_dir, ["127.0.0.1", "localhost"]) if tls else None
    live = LiveServer(create_app(engine, ca, limits), tls_files)
    return Site(db, paths, ca, engine, live, limits)


def stop_site(site: Site) -> None:
    site.live.stop()
    site.engine.dispose()
    site.db.drop()


def send(prepared: requests.PreparedRequest, verify: str | bool = True) -> requests.Response:
    with requests.Session() as http:
        http.trust_env = False
        return http.send(prepared, timeout=30, verify=verify)


def environment(home: Path, **extra: str) -> dict[str, str]:
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k != "FLEETMETER_DB"}
    env.update(FLEETMETER_HOME=str(home), PYTHONPATH=str(root), **extra)
    return env


class ForwardProxy:
    """A minimal HTTP forward proxy on 127.0.0.1 (absolute-form requests), counting what passes through."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        proxy = self
        self.requests: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                proxy.requests.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "host")}
                with requests.Session() as http:
                    http.trust_env = False
                    upstream = http.request(self.command, self.path, data=body, headers=headers, timeout=30)
                self.send_response(upstream.status_code)
                for key, value in upstream.headers.items():
                    if key.lower() not in ("transfer-encoding", "connection", "content-encoding", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

            do_GET = do_POST = _forward

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def in_transaction(site, function, *args):
    """Call a domain function (it takes a connection) in one transaction of the site's database."""
    with site.engine.begin() as conn:
        return function(conn, *args)
