"""A forwarding HTTP proxy on loopback for the tests: CONNECT tunnels (HTTPS) and absolute-form requests
(plain HTTP), each relayed byte for byte to the origin; it records the request lines it saw."""

from __future__ import annotations

import select
import socket
import socketserver
import threading


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.connection.recv(65536)
            if not chunk:
                return
            head += chunk
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        self.server.seen.append(request_line)  # type: ignore[attr-defined]
        method, target, _version = request_line.split(" ", 2)
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream = socket.create_connection((host, int(port)), timeout=10)
            self.connection.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            rest = head.split(b"\r\n\r\n", 1)[1]
        else:  # http://host:port/path -> origin-form to the origin server
            authority, _, path = target.removeprefix("http://").partition("/")
            host, _, port = authority.rpartition(":")
            upstream = socket.create_connection((host, int(port or 80)), timeout=10)
            rest = head.replace(target.encode(), b"/" + path.encode(), 1)
        with upstream:
            if rest:
                upstream.sendall(rest)
            self._relay(upstream)

    def _relay(self, upstream: socket.socket) -> None:
        peers = {self.connection: upstream, upstream: self.connection}
        while True:
            ready, _, _ = select.select(list(peers), [], [], 10)
            if not ready:
                return
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                peers[sock].sendall(data)


class Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[str] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
