"""Peers for the agent-service tests: a running `fleetmeter-agent run` subprocess and a simulated fleet of
distinct printers, one per loopback address (snmpsim answers on several addresses of one port)."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import datetime
from pathlib import Path

from agent.certs.enroll import enrol
from agent.certs.store import CertStore
from agent.outbox import Outbox
from fleetmeter_contract.reading import validate_wire
from server_stub.assets.identity import asset_key
from peers import Simulator
from trust_peers import Site, environment

ROOT = Path(__file__).resolve().parent.parent
from conftest import FIXTURES  # noqa: E402 - FLEETMETER_SHARED honoured in one place
# recordings with a serial number and supplies in the manifest: distinct devices on the server
DEVICES = ("brother", "epson", "ricoh_mpc3002", "sharp")
HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")


def manifest_entry(community: str) -> dict:
    entries = json.loads((FIXTURES / "manifest.json").read_text())["entries"]
    return next(e for e in entries if e["snmpsim_community"] == community)


def fleet(sim: Simulator, count: int) -> dict:
    """ranges + credentials that reach the first `count` simulated devices, one credential each."""
    names = DEVICES[:count]
    return {"credentials": [{"name": n, "version": "2c", "community": n} for n in names],
            "ranges": [{"range": f"{host}:{sim.port}", "credentials": [n]} for host, n in zip(HOSTS, names)]}


QUIET = {"schedules": {"alerts": {"enabled": False}, "supplies": {"enabled": False},
                       "meters": {"enabled": False}, "discovery": {"enabled": False}},
         "heartbeat": "1s", "usb": False, "upload": {"retry_min": "0.2s", "retry_max": "1s"},
         "snmp": {"timeout": 3, "retries": 2}}  # generous: the machine is shared, a partial read would skew counts


def reading_key(document: dict) -> tuple[str, datetime]:
    """A queued reading's idempotency key as the server computes it: (device_key, collected_at)."""
    reading = validate_wire(json.dumps(document))
    return asset_key(reading), reading.collected_at


class AgentProcess:
    """`fleetmeter-agent run` with FLEETMETER_HOME=home."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.log = home / "agent" / "logs" / "agent.log"
        self.proc: subprocess.Popen | None = None

    def enrol(self, site: Site, name: str) -> str:
        enrol(CertStore(self.home / "agent" / "data" / "certs"), site.url, site.new_key(name).key)
        return name

    def start(self, *extra: str) -> None:
        self.stderr = (self.home / "stderr.txt").open("a")
        self.proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "run", "--quiet", *extra],
                                     env=environment(self.home), stdout=subprocess.DEVNULL, stderr=self.stderr)

    def cli(self, *args: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "agent.cli", *args], env=environment(self.home),
                              capture_output=True, text=True, input=stdin, timeout=timeout)

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 60) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.findall(pattern, self.text())
            if len(found) >= count:
                return found
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"agent exited ({self.proc.returncode}):\n{self.text()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} x{count} not in the agent log within {timeout} s:\n{self.text()[-3000:]}")

    def outbox(self) -> Outbox:
        return Outbox(self.home / "agent" / "data" / "outbox.db")

    def queued_ever(self) -> int:
        """How many readings were ever committed to the outbox, delivered since or not, from the outbox itself:
        its ids are AUTOINCREMENT (never reused) and SQLite moves sqlite_sequence in the inserting transaction."""
        with closing(sqlite3.connect(self.outbox().path)) as conn:
            row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        return row[0] if row else 0

    def wait_until_delivered(self, timeout: float = 120) -> None:
        """Until the outbox is empty (the durable record of what is left to send, unlike the log's lines)."""
        deadline = time.monotonic() + timeout
        while len(self.outbox()):
            assert time.monotonic() < deadline, f"{len(self.outbox())} reading(s) still queued after {timeout} s"
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"agent exited ({self.proc.returncode}):\n{self.text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(30)
        self.stderr.close()
        return code

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self.stderr.close()
