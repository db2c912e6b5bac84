"""Real peers the tests and benchmarks run against on loopback (no pytest dependency here)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DATABASES = ("sqlite", "postgresql")  # every server test runs on both


class PeerError(RuntimeError):
    """A test peer could not be started."""


def free_udp_port(address: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


class SnmpsimProcess:
    """A running snmpsim-command-responder with the given engine/endpoint arguments; ready when every
    endpoint listens. As root it runs with SNMPSIM_ALLOW_ROOT and its own cache directory."""

    def __init__(self, args: list[str], work: Path, listeners: int = 1) -> None:
        work.mkdir(parents=True, exist_ok=True)
        self.log = work / "snmpsim.log"
        self.listeners = listeners
        responder = shutil.which("snmpsim-command-responder", path=str(Path(sys.executable).parent))
        if responder is None:
            raise PeerError("snmpsim is not installed in this environment (pip install snmpsim pysmi)")
        self.proc = subprocess.Popen(
            [responder, f"--cache-dir={work / 'cache'}", *args], stdout=self.log.open("w"),
            stderr=subprocess.STDOUT, env=dict(os.environ, SNMPSIM_ALLOW_ROOT="true"), start_new_session=True)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PeerError(f"snmpsim exited: {self.log.read_text()[-2000:]}")
            if self.log.read_text(errors="replace").count("Listening at UDP") >= self.listeners:
                return
            time.sleep(0.1)
        self.stop()
        raise PeerError("snmpsim did not start within 120 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


class Simulator(SnmpsimProcess):
    """snmpsim on 127.0.0.1:<free port> serving a directory; community = data file stem."""

    def __init__(self, data_dir: Path, work: Path, extra_args: tuple[str, ...] = (),
                 also_on: tuple[str, ...] = ()) -> None:
        """`also_on`: more loopback addresses answering on the same port (one simulated device each)."""
        self.host = "127.0.0.1"
        self.port = free_udp_port()
        self.data_dir = data_dir
        super().__init__([*extra_args, f"--data-dir={data_dir}", f"--agent-udpv4-endpoint={self.host}:{self.port}",
                          *(f"--agent-udpv4-endpoint={host}:{self.port}" for host in also_on)], work,
                         listeners=1 + len(also_on))
