"""SQLite's locks are POSIX locks: a process loses every lock it holds on a file as soon as it closes any
descriptor of that file. Nothing beside SQLite may open and close a live database, or another process takes
itself for the last user, checkpoints and deletes the WAL, and this process's next commits are lost (seen as
a server-side configuration change that `config show` in another process never saw)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from agent.outbox import Outbox
from server_stub.db.engine import make_engine

OPEN_READ_CLOSE = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                   "print(c.execute('SELECT count(*) FROM t').fetchone()[0]); c.close()")


def rows_seen_by_another_process(path: Path) -> int:
    done = subprocess.run([sys.executable, "-c", OPEN_READ_CLOSE, str(path)], capture_output=True, text=True,
                          check=True, timeout=60)
    return int(done.stdout)


def test_a_new_server_connection_leaves_the_pooled_ones_their_locks(tmp_path):
    path = tmp_path / "server.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (n INTEGER)"))
        held = engine.connect()  # one the pool keeps busy (a serve thread), having read once
        held.execute(text("SELECT count(*) FROM t")).scalar()
        held.commit()
        with engine.connect() as other:  # the pool opens a second connection
            other.execute(text("SELECT count(*) FROM t")).scalar()
        assert rows_seen_by_another_process(path) == 0  # a CLI command opens and closes the database
        held.execute(text("INSERT INTO t VALUES (1)"))
        held.commit()
        held.close()
        assert rows_seen_by_another_process(path) == 1
    finally:
        engine.dispose()


def locks_held(path: Path) -> list[str]:
    """This process's POSIX locks on the file, as the kernel knows them (Linux)."""
    inode = f":{path.stat().st_ino} "
    return [line for line in Path("/proc/locks").read_text().splitlines()
            if inode in line and f" {os.getpid()} " in line]


def test_opening_the_agent_outbox_again_leaves_a_live_connection_its_locks(tmp_path):
    path = tmp_path / "outbox.db"
    Outbox(path)
    held = sqlite3.connect(path)  # the outbox is in WAL mode: a connection keeps a shared lock once it has read
    try:
        held.execute("SELECT count(*) FROM outbox").fetchall()
        before = locks_held(path)
        assert before
        Outbox(path)  # a second outbox object in the same process
        assert locks_held(path) == before
    finally:
        held.close()
