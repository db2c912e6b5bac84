"""Which physical printer a reading is about: the one place that decides an asset's identity.

An asset's identity is its normalised manufacturer with its serial number (serials are unique per vendor
only), else its MAC address, else nothing: a reading without either is stored but cannot be tied to an asset
across agents and addresses, so it is keyed by where it was read (transport, address, port) and that key
stays within the agent's client like every other one.

- Manufacturers: lower case, punctuation and company suffixes ("Inc.", "Co., Ltd.", "GmbH") dropped, then
  MANUFACTURER_ALIASES maps the spellings profiles and firmware use to one name, so a brand spelled
  differently by a newer profile ("Hewlett-Packard" -> "HP") does not create a new asset.
- Serials: surrounding blanks dropped, upper case. Placeholders printers report when the formatter does not
  know its serial (HP's "XXXXXXXXXX", "0000000000", "unknown", "Serial Number", a single repeated character,
  fewer than 3 characters) are no identity: the MAC decides.
- MACs: twelve hex digits, lower case, colon separated; all-zero, broadcast and multicast addresses are none.

The key is also the device part of a reading's idempotency key (readings.device_key).
"""

from __future__ import annotations

import re
from functools import lru_cache

from fleetmeter_contract.reading import DeviceReading

KEY_LENGTH = 300

# Spellings of one manufacturer, after normalise_manufacturer's cleaning, mapped to the name assets carry.
MANUFACTURER_ALIASES: dict[str, str] = {
    "hewlett packard": "hp", "hewlettpackard": "hp", "hp": "hp", "hp enterprise": "hp",
    "konica minolta": "konica minolta", "konicaminolta": "konica minolta", "konica minolta business": "konica minolta",
    "minolta": "konica minolta", "konica": "konica minolta",
    "kyocera": "kyocera", "kyocera mita": "kyocera", "kyoceramita": "kyocera", "kyocera document": "kyocera",
    "kyocera document solutions": "kyocera", "kyocera documentsolutions": "kyocera",
    "ricoh": "ricoh", "ricoh company": "ricoh", "ricoh americas": "ricoh",
    "oki": "oki", "oki data": "oki", "okidata": "oki", "oki electric": "oki",
    "brother": "brother", "brother industries": "brother",
    "canon": "canon", "canon ij": "canon",
    "lexmark": "lexmark", "lexmark international": "lexmark",
    "samsung": "samsung", "samsung electronics": "samsung",
    "xerox": "xerox", "fuji xerox": "fujifilm", "fujifilm business innovation": "fujifilm", "fujifilm": "fujifilm",
    "fuji film": "fujifilm",
    "sharp": "sharp", "toshiba": "toshiba", "toshiba tec": "toshiba",
    "epson": "epson", "seiko epson": "epson",
    "dell": "dell", "dell computer": "dell",
    "utax": "utax", "ta triumph adler": "triumph-adler", "triumph adler": "triumph-adler", "triumphadler": "triumph-adler",
}

_SUFFIXES = re.compile(r"\b(inc|incorporated|corp|corporation|co|company|ltd|limited|gmbh|ag|sa|llc|plc|kk|"
                       r"development|company ltd)\b")
_PUNCTUATION = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")

PLACEHOLDER_SERIALS = frozenset({
    "UNKNOWN", "NONE", "NULL", "N/A", "NA", "SERIAL", "SERIALNUMBER", "SERIAL NUMBER", "SERIAL_NUMBER", "DEFAULT",
    "NOT AVAILABLE", "NOTAVAILABLE", "0123456789", "123456789", "1234567890", "12345678", "ABCDEFGHIJ", "TBD",
    "UNDEFINED", "INVALID", "NOSERIAL", "NO SERIAL",
})
MIN_SERIAL = 3
_NOT_MACS = frozenset({"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"})


@lru_cache(maxsize=4096)  # pure: ingest normalises the same few names for every reading
def normalise_manufacturer(name: str | None) -> str | None:
    """The one spelling of a manufacturer assets carry (None when unknown)."""
    if not name:
        return None
    cleaned = _PUNCTUATION.sub(" ", name.strip().lower().replace("-", " "))
    cleaned = _SPACES.sub(" ", _SUFFIXES.sub(" ", cleaned)).strip()
    if not cleaned:
        return None
    return MANUFACTURER_ALIASES.get(cleaned, MANUFACTURER_ALIASES.get(cleaned.replace(" ", ""), cleaned))


def normalise_serial(serial: str | None) -> str | None:
    """The serial as an identity, or None for a placeholder a printer reports instead of one."""
    if not serial:
        return None
    value = serial.strip().upper()
    if len(value) < MIN_SERIAL or value in PLACEHOLDER_SERIALS:
        return None
    if len(set(value.replace("-", "").replace(" ", ""))) <= 1:  # XXXXXXXXXX, 0000000000, ----
        return None
    if re.fullmatch(r"(CN|SN|S/N)?[X0?*#-]+", value):  # HP: "CNXXXXXXXX", "SN000000", "S/N??????"
        return None
    return value


def normalise_mac(mac: str | None) -> str | None:
    if not mac:
        return None
    digits = re.sub(r"[^0-9a-f]", "", mac.lower())
    if len(digits) != 12:
        return None
    value = ":".join(digits[i:i + 2] for i in range(0, 12, 2))
    if value in _NOT_MACS or int(digits[1], 16) & 1:  # multicast bit: no device's own address
        return None
    return value


@lru_cache(maxsize=65536)  # pure: each upload repeats the serials of the printers an agent polls
def serial_key(manufacturer: str | None, serial: str | None) -> str | None:
    """The identity of a printer known by manufacturer and serial (a reading's, or a dealer's import row);
    None when the serial is a placeholder."""
    value = normalise_serial(serial)
    if not value:
        return None
    return f"serial:{normalise_manufacturer(manufacturer) or ''}:{value}"[:KEY_LENGTH]


def asset_key(reading: DeviceReading) -> str:
    """The identity of the printer a reading is about (see the module docstring); within one client it
    names one asset."""
    identity = reading.identity
    key = serial_key(identity.manufacturer, identity.serial)
    if key:
        return key
    mac = normalise_mac(identity.mac)
    if mac:
        return f"mac:{mac}"
    return f"{reading.transport}:{reading.address}:{reading.port}"[:KEY_LENGTH]


def is_physical(key: str) -> bool:
    """A key that follows the printer (serial or MAC), not the address it was read at."""
    return key.startswith(("serial:", "mac:"))
