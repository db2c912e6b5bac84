"""PJL status readback over a byte channel: the request, the conversation, and the answer parsers.

A query is one write: UEL, ``@PJL``, one ``@PJL INFO <category>`` line per category, UEL. Answers come
back as blocks ``@PJL INFO <category>\\r\\n<lines>\\f``; printers may echo, interleave unsolicited
``@PJL USTATUS`` blocks, answer "?" or stay silent. ``ask`` bounds the whole conversation by one
deadline and returns only complete blocks; every parser here returns None/empty on garbage and never
raises (Hypothesis-tested). What the codes and categories mean is data: agent/usb/pjl.toml.
"""

from __future__ import annotations

import re
import time
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from agent.printer.supplies import supply_type

UEL = b"\x1b%-12345X"
FORM_FEED = "\f"
QUERY_FILE = Path(__file__).with_name("pjl.toml")

_HEADER = re.compile(r"@PJL\s+(INFO|USTATUS)\s+([A-Z0-9_]+)[^\n]*\n?", re.I)
_NUMBER_LINE = re.compile(r'^\s*(?:[A-Z ]*PAGE ?COUNT\s*=\s*)?"?\s*(\d{1,12})\s*"?\s*(?:PAGES?)?\s*$', re.I)
_KEY_VALUE = re.compile(r'^\s*([A-Za-z][A-Za-z0-9 _\-/.]{0,63}?)\s*=\s*"?([^"\r\n]*)"?\s*$')
_PERCENT = re.compile(r"^(\d{1,3})(?:\.\d+)?\s*%?$")
_COLOR_PAIR = re.compile(r"\b([KCMY]|BK|BLACK|CYAN|MAGENTA|YELLOW)\s*=\s*(\d{1,3})\s*%?", re.I)
_COLOR_LETTERS = {"K": "Black", "BK": "Black", "C": "Cyan", "M": "Magenta", "Y": "Yellow"}


class Channel(Protocol):
    """A bidirectional byte pipe to the printer (USB bulk endpoints or a /dev/usb/lp node)."""

    def write(self, data: bytes, timeout_s: float) -> None: ...

    def read(self, timeout_s: float) -> bytes:
        """Whatever arrived within the timeout; b"" when nothing did."""
        ...


@dataclass(frozen=True)
class PjlStatus:
    code: int | None
    display: str | None
    online: bool | None


@dataclass(frozen=True)
class PjlSupply:
    """One supply level read from a PJL answer: a name and a percentage (0..100)."""

    description: str
    percent: int


@dataclass
class PjlAnswers:
    """Complete answer blocks by category ("INFO PAGECOUNT", "USTATUS DEVICE")."""

    blocks: dict[str, str] = field(default_factory=dict)

    def info(self, category: str) -> str | None:
        body = self.blocks.get(f"INFO {category.upper()}")
        if body is None or body.strip().strip('"') == "?":
            return None  # "?" = category not supported
        return body


@dataclass(frozen=True)
class StatusMeaning:
    low: int
    high: int
    device: str | None
    printer: str | None
    errors: tuple[str, ...]


@dataclass(frozen=True)
class PjlRules:
    categories: tuple[str, ...]
    supply_categories: tuple[str, ...]
    vendor: dict[str, tuple[str, ...]]
    status: tuple[StatusMeaning, ...]

    def categories_for(self, profile_name: str | None) -> tuple[str, ...]:
        extra = self.vendor.get(profile_name or "", ())
        return tuple(dict.fromkeys(self.categories + extra))

    def status_meaning(self, code: int | None) -> StatusMeaning | None:
        if code is None:
            return None
        return next((m for m in self.status if m.low <= code <= m.high), None)


@lru_cache(maxsize=1)
def rules() -> PjlRules:
    data = tomllib.loads(QUERY_FILE.read_text(encoding="utf-8"))
    return PjlRules(
        categories=tuple(c.upper() for c in data["categories"]),
        supply_categories=tuple(c.upper() for c in data["supply_categories"]),
        vendor={name: tuple(c.upper() for c in cats) for name, cats in data.get("vendor", {}).items()},
        status=tuple(StatusMeaning(int(s["codes"][0]), int(s["codes"][1]), s.get("device"), s.get("printer"),
                                   tuple(s.get("errors", ()))) for s in data.get("status", ())),
    )


def build_query(categories: tuple[str, ...]) -> bytes:
    lines = "".join(f"@PJL INFO {c}\r\n" for c in categories)
    return UEL + b"@PJL\r\n" + lines.encode("ascii") + UEL


def ask(channel: Channel, categories: tuple[str, ...], budget_s: float, idle_s: float = 0.4) -> PjlAnswers:
    """Send one query and collect answers until every category is answered, the printer has been
    silent for ``idle_s`` after answering something, or ``budget_s`` has passed (whichever is first)."""
    answers = PjlAnswers()
    deadline = time.monotonic() + budget_s
    channel.write(build_query(categories), timeout_s=max(0.05, budget_s))
    received = bytearray()
    last_data = None
    while True:
        now = time.monotonic()
        if now >= deadline:
            break
        if last_data is not None and now - last_data >= idle_s:
            break
        wait = deadline - now if last_data is None else min(deadline - now, idle_s)
        chunk = channel.read(timeout_s=min(wait, 0.25))
        if chunk:
            received += chunk
            last_data = time.monotonic()
            answers.blocks = split_blocks(bytes(received))
            if all(f"INFO {c}" in answers.blocks for c in categories):
                break
    answers.blocks = split_blocks(bytes(received))
    return answers


def split_blocks(data: bytes) -> dict[str, str]:
    """Complete (form-feed terminated) answer blocks keyed by "INFO <CATEGORY>" / "USTATUS <NAME>"."""
    text = data.replace(UEL, b"").decode("latin-1").replace("\r\n", "\n").replace("\r", "\n")
    blocks: dict[str, str] = {}
    headers = list(_HEADER.finditer(text))
    for number, header in enumerate(headers):
        end_of_block = text.find(FORM_FEED, header.end())
        next_header = headers[number + 1].start() if number + 1 < len(headers) else len(text)
        if end_of_block < 0 or end_of_block > next_header:
            continue  # truncated, or a header echoed without an answer
        key = f"{header.group(1).upper()} {header.group(2).upper()}"
        blocks[key] = text[header.end():end_of_block].strip("\n")
    return blocks


def parse_pagecount(body: str | None) -> int | None:
    """The engine page count: a bare number, ``"123"`` or ``PAGECOUNT=123`` on a line of its own."""
    for line in (body or "").splitlines():
        match = _NUMBER_LINE.match(line)
        if match:
            return int(match.group(1))
    return None


def parse_id(body: str | None) -> str | None:
    for line in (body or "").splitlines():
        value = line.strip().strip('"').strip()
        if value and value != "?":
            return value
    return None


def parse_status(body: str | None) -> PjlStatus | None:
    values = _key_values(body)
    if not values:
        return None
    code = values.get("CODE", "")
    online = values.get("ONLINE", "").upper()
    return PjlStatus(
        code=int(code) if code.isdigit() and len(code) <= 6 else None,
        display=values.get("DISPLAY") or None,
        online=True if online == "TRUE" else False if online == "FALSE" else None,
    )


def parse_supplies(body: str | None) -> list[PjlSupply]:
    """Supply levels from ``KEY=VALUE`` lines whose key names a supply (toner, drum, ink, ...).

    Understood values: ``44``, ``44%``, and per-colour lists ``K=85%,C=70%`` (one supply per colour).
    Values outside 0..100 are not percentages and are skipped.
    """
    found: list[PjlSupply] = []
    for key, value in _key_values(body).items():
        name = " ".join(key.replace("_", " ").split()).title()
        if supply_type(None, name) == "other":
            continue
        pairs = _COLOR_PAIR.findall(value)
        if pairs:
            for color, percent in pairs:
                if int(percent) <= 100:
                    found.append(PjlSupply(f"{_COLOR_LETTERS.get(color.upper(), color.title())} {name}",
                                           int(percent)))
            continue
        match = _PERCENT.match(value.strip())
        if match and int(match.group(1)) <= 100:
            found.append(PjlSupply(name, int(match.group(1))))
    return found


def _key_values(body: str | None) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (body or "").splitlines():
        match = _KEY_VALUE.match(line)
        if match:
            values.setdefault(match.group(1).strip().upper(), match.group(2).strip())
    return values
