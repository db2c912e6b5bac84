"""The local channel between `fleetmeter-agent scan-now` and the running service.

POSIX: a Unix socket `control.sock` in the agent data directory, mode 0600 inside a 0700 directory, and
the peer's uid checked (SO_PEERCRED) to be the service's own user or root. Windows: a loopback TCP port and
a random token, both in `control.json` in the data directory (which only the service's account and
administrators can read); a request without the token is refused. One JSON line each way.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

from agent.certs.files import write_private

SOCKET = "control.sock"
TOKEN_FILE = "control.json"
Handler = Callable[[dict], Awaitable[dict]]


class ControlError(Exception):
    """The service cannot be reached (exit code 2)."""


def _posix() -> bool:
    return hasattr(socket, "AF_UNIX") and os.name == "posix"


class ControlServer:
    def __init__(self, data_dir: Path, handler: Handler) -> None:
        self.data_dir = data_dir
        self.handler = handler
        self.server: asyncio.AbstractServer | None = None
        self.token = secrets.token_urlsafe(24)

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if _posix():
            path = self.data_dir / SOCKET
            if len(str(path)) > 100:
                raise ControlError(f"control socket path {path} is too long for a Unix socket; use a shorter "
                                   "FLEETMETER_HOME")
            path.unlink(missing_ok=True)
            old = os.umask(0o177)
            try:
                self.server = await asyncio.start_unix_server(self._serve, path=str(path))
            finally:
                os.umask(old)
            os.chmod(path, 0o600)
        else:
            self.server = await asyncio.start_server(self._serve, host="127.0.0.1", port=0)
            port = self.server.sockets[0].getsockname()[1]
            write_private(self.data_dir / TOKEN_FILE, json.dumps({"port": port, "token": self.token}).encode())

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        (self.data_dir / (SOCKET if _posix() else TOKEN_FILE)).unlink(missing_ok=True)

    def _allowed(self, writer: asyncio.StreamWriter, request: dict) -> bool:
        if not _posix():
            return secrets.compare_digest(str(request.get("token", "")), self.token)
        sock = writer.get_extra_info("socket")
        if sock is None or not hasattr(socket, "SO_PEERCRED"):
            return True  # the 0600 socket file already limits who can connect
        _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                               struct.calcsize("3i")))
        return uid in (os.getuid(), 0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 10)
            try:
                request = json.loads(line)
            except ValueError:
                request = None
            if not isinstance(request, dict):
                answer = {"ok": False, "error": "malformed request"}
            elif not self._allowed(writer, request):
                answer = {"ok": False, "error": "not allowed"}
            else:
                answer = await self.handler(request)
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()


def request(data_dir: Path, message: dict, timeout: float) -> dict:
    """Send one request to the running service and return its answer."""
    try:
        if _posix():
            path = data_dir / SOCKET
            if not path.exists():
                raise ControlError(f"the agent service is not running (no {path}); start it: "
                                   "systemctl start fleetmeter-agent (or fleetmeter-agent run)")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(str(path))
        else:
            token_file = data_dir / TOKEN_FILE
            if not token_file.exists():
                raise ControlError("the agent service is not running; start it: sc start FleetmeterAgent")
            channel = json.loads(token_file.read_text())
            message = dict(message, token=channel["token"])
            sock = socket.create_connection(("127.0.0.1", channel["port"]), timeout=timeout)
    except PermissionError:
        raise ControlError(f"not allowed to talk to the agent service in {data_dir}; run this as the "
                           "service's user (e.g. sudo -u fleetmeter fleetmeter-agent scan-now ...) or as root") from None
    except (ConnectionRefusedError, FileNotFoundError):
        raise ControlError("the agent service is not running (its control channel is stale); start it") from None
    with sock:
        sock.sendall(json.dumps(message).encode() + b"\n")
        buffer = b""
        try:
            while not buffer.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buffer += chunk
        except socket.timeout:
            raise ControlError(f"the agent service did not answer within {timeout:g} s") from None
    try:
        return json.loads(buffer)
    except ValueError:
        raise ControlError("the agent service closed the control channel without an answer") from None
