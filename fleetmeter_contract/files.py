"""Writing files atomically, 0600 from their first byte unless a caller says otherwise; private database files;
standard output whose reader went away."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def write_private(path: Path, data: bytes) -> None:
    write_atomic(path, data, 0o600)


def create_private(path: Path) -> None:
    """An empty file made 0600 before SQLite first opens it (SQLite gives its -wal and -shm files the database
    file's mode); an existing file is chmod-ed, never opened. SQLite's locks are POSIX locks, and a process
    loses all of them on a file as soon as it closes any descriptor of it: opening and closing a live
    database beside SQLite lets another process believe it is the last user, checkpoint and delete the WAL,
    and this process's next commits then go to the deleted file."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    keep_private(path)


def keep_private(path: Path) -> None:
    """An existing file made 0600 (by its path: never opened)."""
    if path.exists() and path.stat().st_mode & 0o777 != 0o600:
        path.chmod(0o600)


@contextmanager
def reader_may_leave() -> Iterator[None]:
    """For a command's whole run: when standard output's reader goes away (`... | head`), what is still written
    goes nowhere and the command ends with status 1, with no traceback from the command or from the
    interpreter's last flush (the Python documentation's recipe)."""
    try:
        try:
            yield
        finally:
            sys.stdout.flush()  # also after --help or an error exit: the write happens here, not at shutdown
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        raise SystemExit(1) from None
