"""IPP over USB (IPP-USB, interface class 7/1/4): HTTP/1.1 on the bulk endpoints, one
Get-Printer-Attributes request, and the decoding of its answer.

Only what a reading needs is asked: state, state reasons, identity, marker-* and printer-supply.
`decode_attributes` (and `agent.printer.ipp_supplies.parse_supply_value`) never raise on garbage (Hypothesis-tested).
"""

from __future__ import annotations

import re
import struct
import time
from dataclasses import dataclass

from agent.usb.pjl import Channel

GET_PRINTER_ATTRIBUTES = 0x000B
REQUESTED = (
    "printer-state", "printer-state-reasons", "printer-device-id", "printer-make-and-model",
    "printer-firmware-string-version", "printer-uuid", "printer-impressions-completed",
    "marker-names", "marker-levels", "marker-types", "marker-colors", "marker-high-levels", "marker-low-levels",
    "printer-supply", "printer-supply-description",
)
# delimiter and value tags (RFC 8010 section 3.5)
END_OF_ATTRIBUTES = 0x03
_INTEGER_TAGS = {0x21, 0x23}  # integer, enum
_BOOLEAN_TAG = 0x22
_TEXT_TAGS = {0x30, 0x35, 0x36, 0x41, 0x42, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49}  # octetString and strings

Value = int | bool | str | bytes


@dataclass
class HttpAnswer:
    status: int | None  # None: no complete response within the budget
    body: bytes


def encode_get_printer_attributes(request_id: int = 1, uri: str = "ipp://localhost/ipp/print") -> bytes:
    def attribute(tag: int, name: str, value: bytes) -> bytes:
        return struct.pack(">BH", tag, len(name)) + name.encode() + struct.pack(">H", len(value)) + value

    body = struct.pack(">BBHI", 2, 0, GET_PRINTER_ATTRIBUTES, request_id) + b"\x01"
    body += attribute(0x47, "attributes-charset", b"utf-8")
    body += attribute(0x48, "attributes-natural-language", b"en")
    body += attribute(0x45, "printer-uri", uri.encode())
    body += attribute(0x44, "requested-attributes", REQUESTED[0].encode())
    for name in REQUESTED[1:]:
        body += attribute(0x44, "", name.encode())  # additional value: empty name
    return body + bytes([END_OF_ATTRIBUTES])


def http_request(body: bytes, path: str = "/ipp/print") -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ipp\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("ascii") + body


def exchange(channel: Channel, request: bytes, budget_s: float) -> HttpAnswer:
    """One HTTP request/response on the channel, bounded by ``budget_s`` in total."""
    deadline = time.monotonic() + budget_s
    channel.write(request, timeout_s=max(0.05, budget_s))
    received = bytearray()
    while time.monotonic() < deadline:
        chunk = channel.read(timeout_s=min(0.25, max(0.001, deadline - time.monotonic())))
        if chunk:
            received += chunk
            status, body, complete = parse_http_response(bytes(received))
            if complete:
                return HttpAnswer(status, body)
    return HttpAnswer(None, b"")


def parse_http_response(data: bytes) -> tuple[int | None, bytes, bool]:
    """(status, body, complete) of an HTTP/1.1 response read so far (Content-Length or chunked)."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None, b"", False
    lines = head.decode("latin-1").split("\r\n")
    match = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
    status = int(match.group(1)) if match else None
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body, complete = _dechunk(rest)
        return status, body, complete
    length = headers.get("content-length", "")
    if length.isdigit():
        return status, rest[:int(length)], len(rest) >= int(length)
    return status, rest, False  # neither length nor chunks: its end cannot be told, never complete


def _dechunk(data: bytes) -> tuple[bytes, bool]:
    body = bytearray()
    position = 0
    while True:
        line_end = data.find(b"\r\n", position)
        if line_end < 0:
            return bytes(body), False
        size_text = data[position:line_end].split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return bytes(body), False
        if size == 0:
            return bytes(body), True
        start = line_end + 2
        if len(data) < start + size + 2:
            return bytes(body), False
        body += data[start:start + size]
        position = start + size + 2


def decode_attributes(message: bytes) -> tuple[int | None, dict[str, list[Value]]]:
    """(status-code, attributes by name) of an IPP response; stops quietly at the first malformed byte."""
    attributes: dict[str, list[Value]] = {}
    if len(message) < 8:
        return None, attributes
    status = struct.unpack(">H", message[2:4])[0]
    position, name = 8, None
    while position < len(message):
        tag = message[position]
        position += 1
        if tag == END_OF_ATTRIBUTES:
            break
        if tag < 0x10:
            continue  # a group delimiter
        raw_name, position = _length_prefixed(message, position)
        raw_value, position = _length_prefixed(message, position)
        if raw_name is None or raw_value is None:
            break
        if raw_name:
            name = raw_name.decode("utf-8", "replace")
        if name is None:
            continue
        attributes.setdefault(name, []).append(_value(tag, raw_value))
    return status, attributes


def _length_prefixed(message: bytes, position: int) -> tuple[bytes | None, int]:
    """A field with a 2-byte big-endian length at `position`; None when the message ends inside it."""
    if position + 2 > len(message):
        return None, position
    length = struct.unpack(">H", message[position:position + 2])[0]
    end = position + 2 + length
    if end > len(message):
        return None, position
    return message[position + 2:end], end


def _value(tag: int, raw: bytes) -> Value:
    if tag in _INTEGER_TAGS and len(raw) == 4:
        return struct.unpack(">i", raw)[0]
    if tag == _BOOLEAN_TAG and len(raw) == 1:
        return bool(raw[0])
    if tag in _TEXT_TAGS:
        return raw.decode("utf-8", "replace")
    return raw
