"""What every server command shares: the error type, the ready database, tables and dates on a terminal."""

from __future__ import annotations

import argparse
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server_stub.cli.lazy import lazy
from server_stub.db import direct
from server_stub.db.schema_version import at_head, is_current
from server_stub.paths import ServerPaths, database_url, hide_password, server_paths

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

durations = lazy("fleetmeter_contract.durations")
engines = lazy("server_stub.db.engine")  # SQLAlchemy: loaded by the commands that use an engine


class CliError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class Commands:
    """Builds a domain's subcommands: every command takes the shared options (`common`: --home, --db) and a
    listing command also --json."""

    def __init__(self, sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
        self.sub, self.common = sub, common

    def group(self, name: str, help: str) -> argparse._SubParsersAction:
        return self.sub.add_parser(name, help=help).add_subparsers(dest="action", metavar="ACTION", required=True)

    def command(self, parent: argparse._SubParsersAction, name: str, handler, help: str,
                listing: bool = False) -> argparse.ArgumentParser:
        parser = parent.add_parser(name, parents=[self.common], help=help)
        if listing:
            parser.add_argument("--json", action="store_true")
        parser.set_defaults(handler=handler)
        return parser


def bounded(low: int, high: int):
    """argparse type: an integer from low to high."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value
    return parse


def day(text: str) -> date:
    """argparse type: a calendar date, YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def agent_name(text: str) -> str:
    """argparse type: 1-100 printable characters, no surrounding spaces (names appear in certificates)."""
    if not 1 <= len(text) <= 100 or not text.isprintable() or text != text.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: an agent name is 1-100 printable characters")
    return text


def duration_between(low_s: float, high_s: float | None = None):
    """argparse type: the contract's duration ("90s", "30m", "12h", "7d") within bounds (default upper bound:
    the contract's maximum)."""
    def parse(text: str) -> timedelta:
        try:
            return durations.timedelta_of(text, low_s, durations.MAX_SECONDS if high_s is None else high_s)
        except durations.DurationError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


duration = duration_between(1)


def engine_for(args, paths: ServerPaths) -> Engine:
    return engines.make_engine(database_url(args.db, paths))


def ready_engine(args) -> tuple[ServerPaths, Engine]:
    paths = server_paths()
    engine = engine_for(args, paths)
    sqlite_file = engine.url.database if engine.dialect.name == "sqlite" else None
    if (sqlite_file and not Path(sqlite_file).exists()) or not is_current(engine):
        raise _not_ready(safe_url(engine))
    return paths, engine


@contextmanager
def ready_connection(args) -> Iterator[tuple[Any, str]]:
    """What ready_engine checks, then a plain DB-API connection and its dialect (server_stub.db.direct), for a
    read-only command that must start without SQLAlchemy."""
    url = database_url(args.db)
    if url.startswith(direct.SQLITE) and not Path(url[len(direct.SQLITE):].split("?", 1)[0]).exists():
        raise _not_ready(hide_password(url))
    with direct.connect(url) as (connection, dialect):
        if not at_head(connection):
            raise _not_ready(hide_password(url))
        yield connection, dialect


def _not_ready(shown_url: str) -> CliError:
    return CliError(f"database {shown_url} is not initialised or not up to date; run: fleetmeter-server init")


def safe_url(engine: Engine) -> str:
    return hide_password(engine.url.render_as_string(hide_password=False))


def age(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """A stored string (from an agent or a printer) safe on a terminal: control and format characters
    (escape sequences, newlines, bidi overrides) shown escaped, e.g. "\\x1b[2J", "\\n"; the rest as is."""
    return "".join(_ESCAPES.get(ch) or (ascii(ch)[1:-1] if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")
                                        else ch) for ch in text)


def print_table(rows: list[tuple[str, ...]]) -> None:
    """Rows of cells, aligned; every cell shown through printable()."""
    rows = [tuple(printable(cell) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


