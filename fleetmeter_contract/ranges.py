"""The one range syntax: what `fleetmeter-agent discover` sweeps and what the service's `ranges` cover.

Accepted forms (IPv4): ``10.0.0.0/24`` (network and broadcast addresses skipped below /31),
``10.0.0.10-10.0.0.50``, ``10.0.0.10-50`` (last octet), ``10.0.0.7``, or a host name (resolved once);
each optionally followed by ``:PORT`` (configured ranges; discovery takes --port). Exclusions take the same
forms. Addresses come out in ascending order, each once, however the targets overlap.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MAX_ADDRESSES = 1 << 20  # a /12: beyond that a sweep is almost certainly a typo
MAX_ENTRY_ADDRESSES = 65_536  # per configured range entry: a /16 at most
SNMP_PORT = 161
HOST_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?")


class TargetError(ValueError):
    """A target that cannot be understood (a usage error: exit code 2)."""


RangeError = TargetError


def split_port(entry: str) -> tuple[str, int | None]:
    """"host:1161" -> ("host", 1161); "10.0.0.0/24" -> ("10.0.0.0/24", None)."""
    text = entry.strip()
    if text.count(":") != 1:
        return text, None
    text, _, port_text = text.partition(":")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise TargetError(f"range {entry!r}: port must be 1-65535")
    return text, int(port_text)


def _is_address(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
        return True
    except ValueError:
        return False


def check(entry: str, max_addresses: int = MAX_ENTRY_ADDRESSES) -> None:
    """Syntax and size of one configured entry, without resolving host names (the server's check)."""
    text, _ = split_port(entry)
    if "/" in text or ("-" in text and text.split("-", 1)[0].replace(".", "").isdigit()):
        span = parse_span(text)
        if len(span) > max_addresses:
            raise TargetError(f"range {entry!r} has {len(span)} addresses; split it (at most {max_addresses})")
    elif not (_is_address(text) or HOST_NAME.fullmatch(text)):
        raise TargetError(f"not an address, range, CIDR block or host name: {entry!r}")


def expand(entry: str, excluded: "TargetSet | None" = None) -> Iterator[tuple[str, int]]:
    """(address, port) of one configured entry; a host name comes out as given (resolved when polled)."""
    check(entry)
    text, port = split_port(entry)
    port = port or SNMP_PORT
    if "/" in text or "-" in text and text.split("-", 1)[0].replace(".", "").isdigit():
        for address in TargetSet((parse_span(text),), excluded.spans if excluded else ()):
            yield address, port
    elif not (excluded and text in excluded):
        yield text, port


@dataclass(frozen=True)
class Span:
    """An inclusive range of IPv4 addresses, as integers."""

    first: int
    last: int

    def __len__(self) -> int:
        return self.last - self.first + 1


def parse_span(text: str) -> Span:
    text = text.strip()
    try:
        if "/" in text:
            net = ipaddress.IPv4Network(text, strict=False)
            first, last = int(net.network_address), int(net.broadcast_address)
            if net.prefixlen < 31:
                first, last = first + 1, last - 1
            return Span(first, last)
        if "-" in text:
            start, _, end = text.partition("-")
            first = ipaddress.IPv4Address(start.strip())
            end = end.strip()
            if end.isdigit() and int(end) < 256:  # 10.0.0.10-50
                last = ipaddress.IPv4Address(str(first).rsplit(".", 1)[0] + "." + end)
            else:
                last = ipaddress.IPv4Address(end)
            if int(last) < int(first):
                raise TargetError(f"range {text!r} ends before it starts")
            return Span(int(first), int(last))
        return _single(text)
    except ValueError as exc:
        if isinstance(exc, TargetError):
            raise
        raise TargetError(f"not an address, range or CIDR block: {text!r} ({exc})") from None


def _single(text: str) -> Span:
    try:
        address = int(ipaddress.IPv4Address(text))
    except ValueError:
        try:
            address = int(ipaddress.IPv4Address(socket.gethostbyname(text)))
        except OSError:
            raise TargetError(f"cannot resolve host name {text!r}; check the name or give an address") from None
    return Span(address, address)


@dataclass(frozen=True)
class TargetSet:
    """Targets minus exclusions; iterates distinct addresses in ascending order."""

    spans: tuple[Span, ...]
    excluded: tuple[Span, ...] = ()

    @classmethod
    def parse(cls, targets: Iterable[str], exclude: Iterable[str] = ()) -> TargetSet:
        spans = tuple(_merge([parse_span(t) for t in _split(targets)]))
        if not spans:
            raise TargetError("no targets given")
        result = cls(spans, tuple(_merge([parse_span(e) for e in _split(exclude)])))
        if len(result) > MAX_ADDRESSES:
            raise TargetError(f"{len(result)} addresses is more than a sweep covers ({MAX_ADDRESSES}); "
                              "split the targets")
        return result

    def __len__(self) -> int:
        return sum(len(s) for s in self.spans) - sum(
            max(0, min(s.last, e.last) - max(s.first, e.first) + 1) for s in self.spans for e in self.excluded)

    def __iter__(self) -> Iterator[str]:
        for span in self.spans:
            address = span.first
            while address <= span.last:
                hit = next((e for e in self.excluded if e.first <= address <= e.last), None)
                if hit is not None:
                    address = hit.last + 1
                    continue
                yield str(ipaddress.IPv4Address(address))
                address += 1

    def excludes(self, address: str) -> bool:
        value = int(ipaddress.IPv4Address(address))
        return any(e.first <= value <= e.last for e in self.excluded)

    def __contains__(self, address: object) -> bool:
        try:
            value = int(ipaddress.IPv4Address(str(address)))
        except ValueError:
            return False
        return any(s.first <= value <= s.last for s in self.spans) and \
            not any(e.first <= value <= e.last for e in self.excluded)


def _split(items: Iterable[str]) -> list[str]:
    """Targets may also be given comma-separated ("10.0.0.0/24,10.0.1.5")."""
    return [part for item in items for part in item.split(",") if part.strip()]


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: s.first):
        if merged and span.first <= merged[-1].last + 1:
            merged[-1] = Span(merged[-1].first, max(merged[-1].last, span.last))
        else:
            merged.append(span)
    return merged
