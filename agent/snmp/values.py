"""Turning raw SNMP values into Python values, defensively.

The client hands the decoders plain Python values: ``int``, ``bytes`` (OCTET STRING), ``str`` (OBJECT
IDENTIFIER in dotted form, IpAddress), or ``None`` (noSuchObject, noSuchInstance, endOfMibView, NULL).
Every decoder here accepts *any* value and returns ``None`` plus a warning when the value does not fit,
so a printer sending garbage never crashes a poll.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fleetmeter_contract.reading import MAX_COUNT, MAX_TEXT

Raw = int | bytes | str | None

_HEX_LINE = re.compile(r"^\s*(?:[0-9A-Fa-f]{2}[ \t]+){2,}[0-9A-Fa-f]{2}\s*$")
_HEX_TAIL = re.compile(r"^\s*(?:[0-9A-Fa-f]{2}[ \t]*){1,3}$")  # a short last line of a dump
_HEX_BLOB = re.compile(r"^(?:0x)?(?:[0-9A-Fa-f]{2}){4,}$")


class Warnings(list):
    """Warnings collected while decoding one reading (plain strings, shown to the user)."""

    def add(self, where: str, what: str) -> None:
        self.append(f"{where}: {what}")


def from_pysnmp(value: object) -> Raw:
    """Convert a pysnmp/pyasn1 value to a plain Python value (``None`` for the SNMP exceptions)."""
    tag = getattr(value, "tagSet", None)
    name = type(value).__name__
    if name in ("NoSuchObject", "NoSuchInstance", "EndOfMibView", "Null") or tag is None:
        return None
    if name in ("ObjectIdentifier", "ObjectName"):
        return ".".join(str(x) for x in value)  # type: ignore[attr-defined]
    if name == "IpAddress":
        return ".".join(str(b) for b in bytes(value.asOctets()))  # type: ignore[attr-defined]
    if hasattr(value, "asOctets"):
        return bytes(value.asOctets())  # type: ignore[attr-defined]
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def as_int(raw: Raw, where: str, warnings: Warnings) -> int | None:
    """An INTEGER/Counter/Gauge value; numeric text is accepted, anything else is null + warning."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        warnings.add(where, f"expected an integer, got {raw!r}")
        return None
    if isinstance(raw, int):
        return raw
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    text = text.strip().strip("\x00").strip()
    if re.fullmatch(r"[-+]?\d{1,20}", text):
        return int(text)
    warnings.add(where, f"expected an integer, got {_show(raw)}")
    return None


def as_count(raw: Raw, where: str, warnings: Warnings) -> int | None:
    """A counter (pages, ticks): an integer from 0 to the reading's bound (MAX_COUNT, fleetmeter_contract);
    a negative or larger value is null + warning, never a reading the server would refuse."""
    value = as_int(raw, where, warnings)
    if value is None:
        return None
    if value < 0:
        warnings.add(where, f"negative count {value}; reported as null")
        return None
    if value > MAX_COUNT:
        warnings.add(where, f"count {value} is beyond {MAX_COUNT} (more than any printer prints); reported as null")
        return None
    return value


def as_text(raw: Raw, where: str, warnings: Warnings, hex_dump: bool = False) -> str | None:
    """A DisplayString: decoded (UTF-8, else Latin-1), NULs and blanks trimmed, cut to the reading's bound
    (MAX_TEXT characters) with a warning.

    With `hex_dump`, text that printers send as hex (see `_undo_hex_dump`) is decoded too; only for
    free-text descriptions, never for serials or names, which can look like hex legitimately.
    """
    if raw is None:
        return None
    if not isinstance(raw, bytes):  # an INTEGER, or an OBJECT IDENTIFIER / IpAddress (str)
        warnings.add(where, f"expected text, got {_show(raw)}")
        return None
    text = _decode_bytes(raw)
    if hex_dump:
        text = _undo_hex_dump(text)
    text = text.replace("\x00", "").strip()
    text = "".join(ch for ch in text if ch.isprintable() or ch == " ")
    text = re.sub(r"[\r\n\t\v\f]+", " ", text).strip()
    if len(text) > MAX_TEXT:
        warnings.add(where, f"text of {len(text)} characters cut to {MAX_TEXT}")
        text = text[:MAX_TEXT].rstrip()
    return text or None


def as_oid(raw: Raw, where: str, warnings: Warnings) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, str) and re.fullmatch(r"\.?\d+(\.\d+)*", raw):
        return raw.lstrip(".")
    warnings.add(where, f"expected an OBJECT IDENTIFIER, got {_show(raw)}")
    return None


def as_mac(raw: Raw) -> str | None:
    """A 6-octet physical address as aa:bb:cc:dd:ee:ff; all-zero or odd lengths are not a MAC."""
    if isinstance(raw, str):
        # some agents send the MAC as text: "00:26:73:54:E2:6A" or "002673 54E26A"
        digits = re.sub(r"[^0-9A-Fa-f]", "", raw)
        if len(digits) != 12:
            return None
        raw = bytes.fromhex(digits)
    if not isinstance(raw, bytes):
        return None
    if len(raw) == 17 and re.fullmatch(rb"[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}", raw):
        raw = bytes.fromhex(raw.decode().replace(":", "").replace("-", ""))
    if len(raw) != 6 or raw == b"\x00" * 6 or raw == b"\xff" * 6:
        return None
    return ":".join(f"{b:02x}" for b in raw)


def enum_name(raw: Raw, names: Mapping[int, str], where: str, warnings: Warnings) -> str | None:
    """An enumerated INTEGER as its name; values outside the enumeration become null + warning."""
    value = as_int(raw, where, warnings)
    if value is None:
        return None
    name = names.get(value)
    if name is None:
        warnings.add(where, f"value {value} is not a known enumeration value")
    return name


def _decode_bytes(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if len(data) >= 2 and data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    return data.decode("latin-1")


def _undo_hex_dump(text: str) -> str:
    """Undo hex the way printers and recorders send it.

    Two shapes are seen: a whole value written as hex digits ("426C61636B"), and net-snmp style dumps
    where lines of space-separated hex pairs follow (or replace) readable text, e.g.
    ``"Black Cartridge \\n38 32 37 41 00 "`` (HP JetDirect supply descriptions).
    """
    stripped = text.strip()
    if _HEX_BLOB.fullmatch(stripped) and len(stripped) % 2 == 0:
        decoded = bytes.fromhex(stripped.removeprefix("0x"))
        if decoded.strip(b"\x00") and _mostly_printable(decoded):
            return _decode_bytes(decoded)
    lines = text.split("\n")
    full = [bool(_HEX_LINE.match(line)) for line in lines]
    if not any(full):
        return text
    hex_lines = [is_full or (i == len(lines) - 1 and bool(_HEX_TAIL.match(line)))
                 for i, (line, is_full) in enumerate(zip(lines, full))]
    out: list[str] = []
    for line, is_hex in zip(lines, hex_lines):
        if is_hex:
            decoded = bytes.fromhex("".join(line.split()))
            if not _mostly_printable(decoded):
                return text
            out.append(_decode_bytes(decoded))
        else:
            out.append(line)
    return "".join(out)


def _mostly_printable(data: bytes) -> bool:
    body = data.rstrip(b"\x00")
    return all(32 <= b < 127 or b >= 160 or b in (9, 10, 13) for b in body)


def _show(raw: Raw) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."
