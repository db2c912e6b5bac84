"""What every server command shares: the error type, the ready database, tables and dates on a terminal."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine, make_url

from fleetmeter_contract import durations
from server_stub.db.engine import make_engine
from server_stub.db.migrate import is_current
from server_stub.paths import ServerPaths, database_url, server_paths


class CliError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def duration(text: str) -> timedelta:
    """argparse type: the contract's duration ("90s", "30m", "12h", "7d")."""
    try:
        return durations.timedelta_of(text)
    except durations.DurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def engine_for(args, paths: ServerPaths) -> Engine:
    return make_engine(database_url(args.db, paths))


def ready_engine(args) -> tuple[ServerPaths, Engine]:
    paths = server_paths()
    engine = engine_for(args, paths)
    sqlite_file = engine.url.database if engine.dialect.name == "sqlite" else None
    if (sqlite_file and not Path(sqlite_file).exists()) or not is_current(engine):
        raise CliError(f"database {safe_url(engine)} is not initialised or not up to date; "
                       "run: fleetmeter-server init")
    return paths, engine


def safe_url(engine: Engine) -> str:
    return make_url(engine.url).render_as_string(hide_password=True)


def age(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


