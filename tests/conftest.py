"""Shared test peers: snmpsim serving the printer recordings over UDP on loopback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("FLEETMETER_SHARED", ROOT.parent / "shared"))
FIXTURES = SHARED / "fixtures" / "printers"
DEMO_DEVICES = ROOT / "demo" / "devices"


def load_manifest() -> list[dict]:
    return json.loads((FIXTURES / "manifest.json").read_text())["entries"]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Simulator:
    """A running snmpsim-command-responder on 127.0.0.1:<port>; community = data file stem."""

    def __init__(self, data_dir: Path, work: Path, extra_args: tuple[str, ...] = ()) -> None:
        self.host = "127.0.0.1"
        self.port = free_udp_port()
        self.data_dir = data_dir
        work.mkdir(parents=True, exist_ok=True)
        self.log = work / "snmpsim.log"
        responder = shutil.which("snmpsim-command-responder", path=str(Path(sys.executable).parent))
        if responder is None:
            pytest.fail("snmpsim is not installed in this environment (pip install snmpsim pysmi)")
        env = dict(os.environ, SNMPSIM_ALLOW_ROOT="true")
        self.proc = subprocess.Popen(
            [responder, f"--data-dir={data_dir}", f"--agent-udpv4-endpoint={self.host}:{self.port}",
             f"--cache-dir={work / 'cache'}", *extra_args],
            stdout=self.log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"snmpsim exited: {self.log.read_text()[-2000:]}")
            if "Listening at UDP" in self.log.read_text(errors="replace"):
                return
            time.sleep(0.1)
        pytest.fail("snmpsim did not start within 60 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def manifest() -> list[dict]:
    return load_manifest()


@pytest.fixture(scope="session")
def snmpsim(tmp_path_factory) -> Simulator:
    """The ../shared printer recordings, served over UDP on loopback."""
    sim = Simulator(FIXTURES, tmp_path_factory.mktemp("snmpsim"))
    yield sim
    sim.stop()


@pytest.fixture(scope="session")
def agent_env(tmp_path_factory) -> dict[str, str]:
    """Environment for CLI subprocesses: an isolated FLEETMETER_HOME."""
    home = tmp_path_factory.mktemp("agent-home")
    return dict(os.environ, FLEETMETER_HOME=str(home), PYTHONPATH=str(ROOT))


RECORDINGS = ROOT / "tests" / "recordings"


@pytest.fixture(scope="session")
def recordings_snmpsim(tmp_path_factory) -> Simulator:
    """The project's own made-up recordings (tests/recordings, see its README), over UDP on loopback."""
    sim = Simulator(RECORDINGS, tmp_path_factory.mktemp("snmpsim-own"))
    yield sim
    sim.stop()
