"""How the agent talks to the server: HTTPS (or plain HTTP only to loopback or when explicitly allowed),
through an optional proxy, verifying TLS against the pinned anchor or the system's trust store."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from agent.certs.errors import TrustError

TIMEOUT = (10, 60)  # connect, read (seconds)


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
    return http


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


def server_problem(response: requests.Response) -> ServerProblem:
    """The server's problem document (error, detail, field), or the HTTP status line."""
    try:
        doc = response.json()
        return ServerProblem(str(doc.get("error") or response.reason), str(doc.get("detail") or ""),
                             doc.get("field"))
    except (ValueError, AttributeError):
        return ServerProblem(f"HTTP {response.status_code} {response.reason}")
