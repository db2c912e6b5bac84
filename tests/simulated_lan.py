"""A simulated LAN on loopback (127.0.0.0/8 only): printers served by snmpsim, silent hosts that drop.

- Printers: one snmpsim process, one SNMP engine per printer address (``--v3-engine-id`` starts a new
  engine with its own ``--data-dir`` and endpoint), so each address serves its own recording under
  its own community, and SNMPv3 users can be given per address.
- Silent hosts: a UDP socket bound to each address that reads every datagram and never answers, as a
  host behind a dropping firewall does. (An address with nothing bound would answer with an ICMP port
  unreachable at once, which no real LAN does.) `SilentHosts.received` counts what they swallowed.

Used by the discovery tests and by bench/discovery.py.
"""

from __future__ import annotations

import selectors
import shutil
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from peers import SnmpsimProcess


@dataclass(frozen=True)
class SimPrinter:
    address: str
    recording: Path  # an .snmprec file
    community: str = "public"
    v3_user: str | None = None
    v3_auth_key: str | None = None  # SHA
    v3_priv_key: str | None = None  # AES


class SimPrinters(SnmpsimProcess):
    """snmpsim serving each `SimPrinter` at its own address and the shared port."""

    def __init__(self, printers: Iterable[SimPrinter], port: int, work: Path) -> None:
        self.printers = list(printers)
        self.port = port
        args: list[str] = []
        for n, printer in enumerate(self.printers):
            data = work / f"device-{n}"
            data.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(printer.recording, data / f"{printer.community}.snmprec")
            args += ["--v3-engine-id=auto", f"--data-dir={data}",
                     f"--agent-udpv4-endpoint={printer.address}:{port}"]
            if printer.v3_user:
                args += [f"--v3-user={printer.v3_user}"]
                if printer.v3_auth_key:
                    args += [f"--v3-auth-key={printer.v3_auth_key}", "--v3-auth-proto=SHA"]
                if printer.v3_priv_key:
                    args += [f"--v3-priv-key={printer.v3_priv_key}", "--v3-priv-proto=AES"]
        super().__init__(args, work, listeners=len(self.printers))


class SilentHosts:
    """UDP sockets on `addresses`:`port` that read and drop everything, in one background thread."""

    def __init__(self, addresses: Iterable[str], port: int) -> None:
        self.selector = selectors.DefaultSelector()
        self.sockets = []
        self.received = 0
        for address in addresses:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ)
            self.sockets.append(sock)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            for key, _ in self.selector.select(timeout=0.2):
                try:
                    while True:
                        key.fileobj.recv(65535)  # type: ignore[union-attr]
                        self.received += 1
                except BlockingIOError:
                    pass

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)
        for sock in self.sockets:
            self.selector.unregister(sock)
            sock.close()
        self.selector.close()
