"""A hostile HTTP server on 127.0.0.1 for the agent's tests: it answers each path with whatever a test
scripts (any status and shape, a body trickled a byte at a time, a body of hundreds of megabytes streamed
without being held), records what the agent sent, and counts what it managed to send back.

It does not check signatures: the agent is enrolled with the real server first, then pointed here
(`point_agent_at`), as if its server had been replaced or broken.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from agent.scheduler.config import document_version


@dataclass
class Reply:
    status: int = 200
    body: Any = b""  # bytes go out as they are; anything else as JSON
    trickle_s: float = 0.0  # > 0: the whole answer, status line included, one byte per trickle_s seconds
    huge: int = 0  # > 0: a body of this many bytes, streamed in 1 MiB chunks (nothing held in memory)
    declared: bool = True  # False: no Content-Length, the body ends when the connection closes


@dataclass
class Received:
    path: str
    body: Any  # the JSON the agent sent (None when it was not JSON)
    started: float
    ended: float | None = None  # when the answer was finished or the agent hung up


Route = Reply | Callable[[Any], Reply]


@dataclass
class HostileServer:
    routes: dict[str, Route] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    sent_bytes: int = 0  # of huge bodies, before the agent hung up

    def __post_init__(self) -> None:
        server = self
        self._closing = False

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                record = Received(self.path, body, time.monotonic())
                server.received.append(record)
                route = server.routes.get(self.path, Reply(404, {"error": "not found"}))
                reply = route(body) if callable(route) else route
                try:
                    server._answer(self.wfile, reply)
                except OSError:  # the agent hung up
                    pass
                finally:
                    record.ended = time.monotonic()
                    self.close_connection = True

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def _answer(self, out, reply: Reply) -> None:
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        length = reply.huge or len(body)
        declared = f"Content-Length: {length}\r\n" if reply.declared else ""
        head = (f"HTTP/1.1 {reply.status} Whatever\r\nContent-Type: application/json\r\n{declared}"
                "Connection: close\r\n\r\n").encode()
        if reply.trickle_s:
            for byte in head + body:
                if self._closing:
                    return
                out.write(bytes([byte]))
                out.flush()
                time.sleep(reply.trickle_s)
            return
        out.write(head)
        if not reply.huge:
            out.write(body)
            return
        chunk = b"x" * (1024 * 1024)
        while self.sent_bytes < reply.huge and not self._closing:
            out.write(chunk)
            out.flush()
            self.sent_bytes += len(chunk)

    def bodies(self, path: str) -> list[Any]:
        return [r.body for r in self.received if r.path == path]

    def stop(self) -> None:
        self._closing = True
        self.httpd.shutdown()
        self.httpd.server_close()


def acknowledge(batch: Any) -> Reply:
    """What a well-behaved server answers to an upload: every reading stored."""
    count = len(batch["readings"])
    return Reply(200, {"received": count, "stored": count, "duplicates": 0})


def configuration(document: Any) -> Callable[[Any], Reply]:
    """A heartbeat answer carrying `document` as the agent's configuration."""
    return lambda _beat: Reply(200, {"config": document, "config_version": document_version(document),
                                     "state": "connected"})


def point_agent_at(home: Path, url: str) -> None:
    """Send an enrolled agent's traffic (uploads, heartbeats) to `url` from now on."""
    path = home / "agent" / "data" / "certs" / "enrolment.json"
    enrolment = json.loads(path.read_text())
    enrolment["server"] = url
    path.write_text(json.dumps(enrolment))
