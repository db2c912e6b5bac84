"""How the agent talks to the server: HTTPS (or plain HTTP only to loopback or when explicitly allowed),
through an optional proxy, verifying TLS against the pinned anchor or the system's trust store.

Every request has a total deadline (`FLEETMETER_HTTP_DEADLINE`, default 90 s, for the whole exchange: a
server that trickles its answer a byte at a time is cut off, whatever the per-read timeout) and every answer
a size cap (the caller's `max_bytes`: an answer is read as a stream and refused as soon as it exceeds it).
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from agent.certs.errors import TrustError

TIMEOUT = (10, 60)  # connect, read (seconds): each socket operation
DEADLINE_ENV = "FLEETMETER_HTTP_DEADLINE"
DEFAULT_DEADLINE = 90.0  # seconds for one whole request and its answer
CHUNK = 64 * 1024


def check_server_url(url: str, allow_http: bool) -> str:
    """The normalised server URL, or a usage error for a plain-HTTP URL to a non-loopback host."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TrustError(f"server URL {url!r} must look like https://HOST[:PORT]", 2)
    if parts.scheme == "http" and not allow_http and not is_loopback(parts.hostname):
        raise TrustError(f"refusing plain-HTTP server URL {url}: readings and keys would cross the network "
                         "unencrypted; use https://, or pass --allow-http if a TLS-terminating proxy is in the "
                         "path", 2)
    return url.rstrip("/")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def proxy_for(url: str, configured: str | None) -> str | None:
    """The proxy given at enrolment, else the environment's (HTTPS_PROXY / HTTP_PROXY, minus NO_PROXY)."""
    if configured:
        return configured
    proxies = requests.utils.get_environ_proxies(url)
    return proxies.get(urlsplit(url).scheme) or proxies.get("all")


def session(proxy: str | None, verify: str | bool) -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # the proxy is the one configured at enrolment, not whatever the environment says
    http.verify = verify
    if proxy:
        http.proxies = {"http": proxy, "https": proxy}
    adapter = _WatchedAdapter()
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    return http


def request_deadline() -> float:
    """Seconds one request may take in all (FLEETMETER_HTTP_DEADLINE, 1-3600; default 90)."""
    raw = os.environ.get(DEADLINE_ENV)
    if not raw:
        return DEFAULT_DEADLINE
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 1 <= value <= 3600:
        raise TrustError(f"{DEADLINE_ENV}={raw!r}: expected seconds between 1 and 3600", 2)
    return value


@dataclass(frozen=True)
class Answer:
    """A server's answer, read whole but never past the cap."""

    status: int
    reason: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def post(http: requests.Session, url: str, body: bytes, *, max_bytes: int, server: str, auth=None) -> Answer:
    """POST a JSON body and read the answer within the deadline and the size cap; TrustError (one line,
    exit code 2: the server is not usable) when the server is unreachable, too slow or answers too much."""
    deadline = request_deadline()
    watch = _Watch()
    _current.watch = watch
    timer = threading.Timer(deadline, watch.expire)
    timer.daemon = True
    timer.start()
    try:
        with http.post(url, data=body, auth=auth, timeout=TIMEOUT, stream=True,
                       headers={"Content-Type": "application/json"}) as response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise _too_large(url, max_bytes)
            chunks, size = [], 0
            for chunk in response.iter_content(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(url, max_bytes)
                chunks.append(chunk)
            if watch.expired:  # cut off at the deadline: what came is not the whole answer
                raise _too_slow(url, deadline)
            return Answer(response.status_code, response.reason or "", b"".join(chunks))
    except requests.RequestException as exc:
        if watch.expired:
            raise _too_slow(url, deadline) from None
        raise unreachable(server, exc) from None
    finally:
        timer.cancel()
        _current.watch = None


def _too_large(url: str, max_bytes: int) -> TrustError:
    return TrustError(f"the answer from {url} is larger than {max_bytes // 1024} KiB; refused (nothing was "
                      "deleted or changed)", 2)


def _too_slow(url: str, deadline: float) -> TrustError:
    return TrustError(f"no complete answer from {url} within {deadline:g} s; gave up (nothing was deleted or "
                      f"changed; {DEADLINE_ENV} sets the limit)", 2)


class _Watch:
    """The connections one request uses; at the deadline their sockets are shut down, which ends any read or
    write blocked on them at once (a per-read timeout alone never fires on a byte-at-a-time trickle)."""

    def __init__(self) -> None:
        self.connections: list = []
        self.expired = False
        self._lock = threading.Lock()

    def add(self, connection) -> None:
        with self._lock:
            self.connections.append(connection)
            if self.expired:
                _shut(connection)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for connection in self.connections:
                _shut(connection)


def _shut(connection) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        try:  # the plain socket's shutdown: SSLSocket.shutdown would tear its SSL object from under a reader
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass


_current = threading.local()  # the watch of the request this thread is making


def _watched(pool_class: type) -> type:
    class Watched(pool_class):
        def _get_conn(self, timeout=None):
            connection = super()._get_conn(timeout)
            watch = getattr(_current, "watch", None)
            if watch is not None:
                watch.add(connection)
            return connection

    Watched.__name__ = f"Watched{pool_class.__name__}"
    return Watched


WATCHED_POOLS = {"http": _watched(HTTPConnectionPool), "https": _watched(HTTPSConnectionPool)}


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter with pools that register each connection with the current request's watch."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = WATCHED_POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = WATCHED_POOLS
        return manager


def unreachable(url: str, exc: requests.RequestException) -> TrustError:
    if isinstance(exc, requests.exceptions.SSLError):
        return TrustError(f"TLS verification of {url} failed ({_reason(exc)}); if the server uses a private CA, "
                          "pass --ca-file with its certificate", 2)
    if isinstance(exc, requests.exceptions.ProxyError):
        return TrustError(f"proxy refused or unreachable on the way to {url} ({_reason(exc)}); check --proxy", 2)
    return TrustError(f"cannot reach server {url} ({_reason(exc)}); check the URL, network and proxy", 2)


def _reason(exc: Exception) -> str:
    while exc.__context__ is not None and not str(exc):
        exc = exc.__context__
    text = str(exc)
    return text.split("(Caused by ")[-1].rstrip(")") if "Caused by" in text else text


@dataclass(frozen=True)
class ServerProblem:
    error: str
    detail: str = ""
    field: str | None = None

    def __str__(self) -> str:
        return f"{self.error}: {self.detail}" if self.detail else self.error


def server_problem(answer: Answer) -> ServerProblem:
    """The server's problem document (error, detail, field), or the HTTP status line; every part one line."""
    try:
        doc = answer.json()
        field = doc.get("field")
        return ServerProblem(one_line(doc.get("error") or answer.reason), one_line(doc.get("detail") or ""),
                             field if isinstance(field, str) else None)
    except (ValueError, AttributeError):
        return ServerProblem(f"HTTP {answer.status} {one_line(answer.reason)}")


def one_line(value: Any, limit: int = 300) -> str:
    """A server-supplied string made one printable line (control characters escaped), cut at `limit`."""
    text = " ".join(str(value).split())
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[:limit] + "..."
