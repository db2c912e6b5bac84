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


class PeerError(RuntimeError):
    """A test peer could not be started."""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Simulator:
    """A running snmpsim-command-responder on 127.0.0.1:<port>; community = data file stem."""

    def __init__(self, data_dir: Path, work: Path, extra_args: tuple[str, ...] = (),
                 also_on: tuple[str, ...] = ()) -> None:
        """`also_on`: more loopback addresses answering on the same port (one simulated device each)."""
        self.host = "127.0.0.1"
        self.port = free_udp_port()
        self.data_dir = data_dir
        work.mkdir(parents=True, exist_ok=True)
        self.log = work / "snmpsim.log"
        responder = shutil.which("snmpsim-command-responder", path=str(Path(sys.executable).parent))
        if responder is None:
            raise PeerError("snmpsim is not installed in this environment (pip install snmpsim pysmi)")
        env = dict(os.environ, SNMPSIM_ALLOW_ROOT="true")
        self.proc = subprocess.Popen(
            [responder, f"--cache-dir={work / 'cache'}", *extra_args, f"--data-dir={data_dir}",
             f"--agent-udpv4-endpoint={self.host}:{self.port}",
             *(f"--agent-udpv4-endpoint={host}:{self.port}" for host in also_on)],
            stdout=self.log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PeerError(f"snmpsim exited: {self.log.read_text()[-2000:]}")
            if "Listening at UDP" in self.log.read_text(errors="replace"):
                return
            time.sleep(0.1)
        raise PeerError("snmpsim did not start within 60 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
