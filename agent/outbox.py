"""A small durable queue of readings waiting for upload (SQLite in the agent data directory).

put() stores a reading; peek() returns the oldest ones without removing them; ack() removes the ones the
server confirmed; reject() sets aside one the server refused for good (kept, with the reason, in table
`rejected`), so it cannot block the ones behind it. A reading leaves the outbox only after the server said
it has it, so a crash, an outage or a revoked certificate never loses one.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from agent.home import agent_paths


@dataclass(frozen=True)
class Queued:
    id: int
    document: dict


class Outbox:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        with closing(self._connect()) as conn, conn:
            conn.execute("CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                         "document TEXT NOT NULL, queued_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)")
            conn.execute("CREATE TABLE IF NOT EXISTS rejected (id INTEGER PRIMARY KEY, document TEXT NOT NULL, "
                         "queued_at TEXT NOT NULL, reason TEXT NOT NULL, "
                         "rejected_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def put(self, document: dict) -> int:
        with closing(self._connect()) as conn, conn:
            return conn.execute("INSERT INTO outbox (document) VALUES (?)", (json.dumps(document),)).lastrowid

    def peek(self, limit: int) -> list[Queued]:
        with closing(self._connect()) as conn:
            rows = conn.execute("SELECT id, document FROM outbox ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [Queued(row[0], json.loads(row[1])) for row in rows]

    def ack(self, ids: list[int]) -> None:
        with closing(self._connect()) as conn, conn:
            conn.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def reject(self, id_: int, reason: str) -> None:
        with closing(self._connect()) as conn, conn:
            conn.execute("INSERT INTO rejected (id, document, queued_at, reason) "
                         "SELECT id, document, queued_at, ? FROM outbox WHERE id = ?", (reason, id_))
            conn.execute("DELETE FROM outbox WHERE id = ?", (id_,))

    def rejected(self) -> int:
        with closing(self._connect()) as conn:
            return conn.execute("SELECT count(*) FROM rejected").fetchone()[0]

    def __len__(self) -> int:
        with closing(self._connect()) as conn:
            return conn.execute("SELECT count(*) FROM outbox").fetchone()[0]


def agent_outbox() -> Outbox:
    return Outbox(agent_paths().data / "outbox.db")
