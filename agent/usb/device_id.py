"""IEEE 1284 Device ID: unframing the GET_DEVICE_ID answer and parsing its ``KEY:value;`` fields.

The printer class request returns a 2-byte big-endian length that counts itself, then the ID. Real
devices get this wrong in every way: little-endian lengths, lengths that leave out the prefix, lengths
larger than what arrived (truncated answers), padding after the ID, or no prefix at all. ``unframe``
accepts all of these; ``parse_device_id`` never raises on any input (Hypothesis-tested).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Field names (upper case) -> what they mean; first one present wins.
MANUFACTURER_KEYS = ("MFG", "MANUFACTURER")
MODEL_KEYS = ("MDL", "MODEL")
COMMAND_SET_KEYS = ("CMD", "COMMAND SET", "COMMANDSET")
SERIAL_KEYS = ("SN", "SERN", "SERIALNUMBER", "SERIAL NUMBER")
DESCRIPTION_KEYS = ("DES", "DESCRIPTION")
CLASS_KEYS = ("CLS", "CLASS")

_LEADING_KEY = re.compile(rb"^[A-Za-z][A-Za-z ]{0,19}:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class DeviceId:
    """A parsed IEEE 1284 Device ID. ``text`` is the whole ID as received (cleaned of control bytes)."""

    text: str
    fields: dict[str, str] = field(default_factory=dict)

    def first(self, keys: tuple[str, ...]) -> str | None:
        for key in keys:
            value = self.fields.get(key)
            if value:
                return value
        return None

    @property
    def manufacturer(self) -> str | None:
        return self.first(MANUFACTURER_KEYS)

    @property
    def model(self) -> str | None:
        return self.first(MODEL_KEYS)

    @property
    def serial(self) -> str | None:
        return self.first(SERIAL_KEYS)

    @property
    def description(self) -> str | None:
        return self.first(DESCRIPTION_KEYS)

    @property
    def device_class(self) -> str | None:
        return self.first(CLASS_KEYS)

    @property
    def command_set(self) -> tuple[str, ...]:
        value = self.first(COMMAND_SET_KEYS) or ""
        return tuple(part.strip() for part in value.split(",") if part.strip())

    def speaks(self, language: str) -> bool:
        """Whether the command set names ``language`` (case-insensitive), e.g. "PJL"."""
        return language.upper() in (c.upper() for c in self.command_set)


def unframe(raw: bytes) -> bytes:
    """The ID bytes inside a GET_DEVICE_ID answer, whatever its length prefix says."""
    received = len(raw)
    if received < 2:
        return b""
    if _LEADING_KEY.match(raw) and not _plausible(raw, received):
        return raw  # no length prefix at all: the answer starts with "MFG:" or similar
    for declared in (int.from_bytes(raw[:2], "big"), int.from_bytes(raw[:2], "little")):
        if declared in (received, received - 2):
            return raw[2:]  # exact, or a length that leaves out its own two bytes
        if 2 <= declared < received:
            return raw[2:declared]  # padding or garbage after the ID
    return raw[2:]  # declared length larger than what arrived: keep what did arrive


def frame(device_id: bytes) -> bytes:
    """An ID obtained without its length prefix (usblp's sysfs copy) in the wire form `unframe` reads."""
    return (len(device_id) + 2).to_bytes(2, "big") + device_id


def _plausible(raw: bytes, received: int) -> bool:
    return any(2 <= int.from_bytes(raw[:2], order) <= received for order in ("big", "little"))


def decode_text(data: bytes) -> str:
    """Bytes to text: UTF-8 when valid, else Latin-1 (1284 says ASCII; devices disagree)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return _CONTROL.sub(" ", text).strip()


def parse_device_id(data: bytes | str) -> DeviceId:
    """Parse an already unframed ID (bytes or text) into its fields. Keys are upper-cased and stripped."""
    text = decode_text(data) if isinstance(data, bytes) else _CONTROL.sub(" ", data).strip()
    fields: dict[str, str] = {}
    for item in text.split(";"):
        key, sep, value = item.partition(":")
        key = " ".join(key.split()).upper()
        if not sep or not key:
            continue
        fields.setdefault(key, value.strip())
    return DeviceId(text=text, fields=fields)
