"""Recording a device in snmpsim's ``.snmprec`` format, and scrubbing what identifies the customer.

A line is ``OID|tag|value``: the tag is the BER type (2 Integer32, 4 OCTET STRING, 5 NULL, 6 OBJECT
IDENTIFIER, 64 IpAddress, 65 Counter32, 66 Gauge32/Unsigned32, 67 TimeTicks, 68 Opaque, 70 Counter64);
a tag with ``x`` (``4x``) carries the value as hex. Strings are written as text only when they are
plain printable ASCII without edge blanks (snmpsim strips lines and reads them as Latin-1); anything
else is hex, so binary values replay byte for byte. Lines are sorted by OID, as snmpsim requires.

Scrubbing (the default for ``record``) replaces, consistently across the whole file:
- sysContact, sysName and sysLocation, and any other value equal to one of them, by ``<scrubbed>``;
- IPv4 addresses (IpAddress values, the addresses in the index of the IP, ARP, route, TCP and UDP
  tables, and the same addresses written as text) by documentation addresses (192.0.2.0/24, ...);
- MAC addresses (interface, ARP and at tables, and the same 6 octets or their text form anywhere) by
  locally administered ones (02:00:00:00:00:01, ...).
Netmasks, 0.0.0.0, 127/8 and broadcast addresses are kept: they identify nobody.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

SCRUBBED = "<scrubbed>"
SYS_CONTACT, SYS_NAME, SYS_LOCATION = "1.3.6.1.2.1.1.4.0", "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.6.0"

_OCTETS = ("4", "64", "68")
# Tables whose index holds IPv4 addresses: column prefix -> positions (in arcs after the column) where
# an address starts.
_IP_INDEXED = {
    "1.3.6.1.2.1.4.20.1": (0,),  # ipAddrTable
    "1.3.6.1.2.1.4.21.1": (0,),  # ipRouteTable
    "1.3.6.1.2.1.4.22.1": (1,),  # ipNetToMediaTable: ifIndex.address
    "1.3.6.1.2.1.3.1.1": (2,),  # atTable: ifIndex.1.address
    "1.3.6.1.2.1.6.13.1": (0, 5),  # tcpConnTable: local.port.remote.port
    "1.3.6.1.2.1.7.5.1": (0,),  # udpTable: local.port
}
_MAC_COLUMNS = ("1.3.6.1.2.1.2.2.1.6", "1.3.6.1.2.1.4.22.1.2", "1.3.6.1.2.1.3.1.1.2")


@dataclass(frozen=True)
class Record:
    oid: str
    tag: str  # BER tag number as text
    data: bytes | str  # octets for string-like types, text for numbers and OIDs

    def line(self) -> str:
        if self.tag in _OCTETS:
            data = self.data if isinstance(self.data, bytes) else self.data.encode()
            if self.tag == "64":
                return f"{self.oid}|64|{'.'.join(str(b) for b in data)}" if len(data) == 4 else \
                    f"{self.oid}|64x|{data.hex()}"
            if _plain(data):
                return f"{self.oid}|{self.tag}|{data.decode('ascii')}"
            return f"{self.oid}|{self.tag}x|{data.hex()}"
        return f"{self.oid}|{self.tag}|{self.data}"


def to_record(oid: str, typed: tuple[int, object]) -> Record | None:
    """The record of one value as the client's typed walk returns it: (BER tag, plain value);
    None for the SNMP exceptions (noSuchObject, noSuchInstance, endOfMibView)."""
    tag, value = typed
    if tag >= 0x80:
        return None
    text_tag = str(tag)
    if text_tag in _OCTETS:
        if isinstance(value, str):  # an IpAddress the codec already wrote as dotted text
            value = bytes(int(x) for x in value.split("."))
        return Record(oid, text_tag, value)
    if tag == 0x05:
        return Record(oid, text_tag, "")
    return Record(oid, text_tag, str(value))


def dumps(records: Iterable[Record]) -> str:
    ordered = sorted(records, key=lambda r: tuple(int(x) for x in r.oid.split(".")))
    return "".join(r.line() + "\n" for r in ordered)


def scrub(records: list[Record]) -> list[Record]:
    """The records with names, contacts, locations, IPv4 and MAC addresses replaced (see module doc)."""
    by_oid = {r.oid: r for r in records}
    names = {bytes(by_oid[o].data) for o in (SYS_CONTACT, SYS_NAME, SYS_LOCATION)
             if o in by_oid and isinstance(by_oid[o].data, bytes) and by_oid[o].data.strip()}
    ips = _Renamer(_fake_ip)
    macs = _Renamer(_fake_mac)
    for r in records:  # learn the addresses first, so text mentioning them is caught wherever it is
        if r.tag == "64" and isinstance(r.data, bytes) and len(r.data) == 4 and _personal_ip(r.data):
            ips.learn(r.data)
        for start in _index_ips(r.oid):
            ips.learn(bytes(int(x) for x in r.oid.split(".")[start:start + 4]))
        if any(r.oid.startswith(c + ".") for c in _MAC_COLUMNS) and isinstance(r.data, bytes) \
                and len(r.data) == 6 and r.data.strip(b"\x00") and r.data != b"\xff" * 6:
            macs.learn(r.data)
    out = []
    for r in records:
        oid = _scrub_index(r.oid, ips)
        data = r.data
        if isinstance(data, bytes) and r.tag in _OCTETS:
            if data in names and r.tag == "4":
                data = SCRUBBED.encode()
            elif r.tag == "64" and len(data) == 4:
                data = ips.new.get(data, data)
            else:
                data = macs.replace_in(ips.replace_in(data))
        out.append(replace(r, oid=oid, data=data))
    return out


class _Renamer:
    """A consistent mapping real -> fake (bytes), with the text forms of each value."""

    def __init__(self, fake) -> None:
        self.fake = fake
        self.new: dict[bytes, bytes] = {}

    def learn(self, real: bytes) -> None:
        if real not in self.new:
            self.new[real] = self.fake(len(self.new) + 1)

    def replace_in(self, data: bytes) -> bytes:
        for real, fake in self.new.items():
            data = data.replace(real, fake) if len(real) == 6 else data
            for real_text, fake_text in _text_forms(real, fake):
                if len(real) == 4:  # not inside a longer number: 10.1.1.1 must not touch 10.1.1.10
                    pattern = rb"(?<![\d.])" + re.escape(real_text) + rb"(?!\d|\.\d)"
                else:
                    pattern = rb"(?<![0-9a-f:-])" + re.escape(real_text) + rb"(?![0-9a-f])"
                data = re.sub(pattern, fake_text, data, flags=re.I)
        return data


def _text_forms(real: bytes, fake: bytes) -> list[tuple[bytes, bytes]]:
    if len(real) == 4:
        return [(".".join(str(b) for b in real).encode(), ".".join(str(b) for b in fake).encode())]
    forms = []
    for sep in (":", "-", ""):
        forms.append((sep.join(f"{b:02x}" for b in real).encode(), sep.join(f"{b:02x}" for b in fake).encode()))
    return forms


def _index_ips(oid: str) -> list[int]:
    """Arc positions where an IPv4 address starts in this OID's index (IP-indexed tables only)."""
    for prefix, positions in _IP_INDEXED.items():
        if oid.startswith(prefix + "."):
            base = prefix.count(".") + 2  # the column arc follows the entry OID
            arcs = oid.split(".")
            return [base + p for p in positions if base + p + 4 <= len(arcs)
                    and all(0 <= int(x) <= 255 for x in arcs[base + p:base + p + 4])
                    and _personal_ip(bytes(int(x) for x in arcs[base + p:base + p + 4]))]
    return []


def _scrub_index(oid: str, ips: _Renamer) -> str:
    arcs = oid.split(".")
    for start in _index_ips(oid):
        real = bytes(int(x) for x in arcs[start:start + 4])
        arcs[start:start + 4] = [str(b) for b in ips.new.get(real, real)]
    return ".".join(arcs)


def _personal_ip(data: bytes) -> bool:
    address = ipaddress.IPv4Address(data)
    if address.is_unspecified or address.is_loopback or address.is_multicast or data == b"\xff" * 4:
        return False
    value = int(address)
    inverted = ~value & 0xFFFFFFFF
    return (inverted & (inverted + 1)) != 0 or data[0] < 128  # a netmask is ones then zeros


def _fake_ip(n: int) -> bytes:
    nets = (b"\xc0\x00\x02", b"\xc6\x33\x64", b"\xcb\x00\x71")  # 192.0.2/24, 198.51.100/24, 203.0.113/24
    return nets[(n - 1) // 254 % 3] + bytes([(n - 1) % 254 + 1])


def _fake_mac(n: int) -> bytes:
    return b"\x02\x00" + n.to_bytes(4, "big")


def _plain(data: bytes) -> bool:
    return all(0x20 <= b < 0x7F for b in data) and data == data.strip()
