"""A small durable queue of readings waiting for upload (SQLite, WAL, in the agent data directory).

put() / put_many() store readings and return only after SQLite has committed them to disk (WAL with
synchronous=FULL): once the scheduler is told a reading is queued, a crash or kill -9 cannot lose it.
peek() returns the oldest ones without removing them; ack() removes the ones the server confirmed;
reject() sets aside one the server refused for good (kept, with the reason, in table `rejected`), so it
cannot block the ones behind it. A reading leaves the outbox only after the server said it has it
(at-least-once; the server's idempotency key makes a resend harmless), so an outage or a revoked
certificate never loses one.

Disk use is bounded (`max_bytes`): when a put would exceed it, the oldest readings of the most expendable
kind go first (supplies, which a newer reading supersedes, then alerts, then meters: meter reads are
billing data and are the last thing ever dropped), and the outbox reports what it dropped so the service
can warn clearly.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from agent.home import agent_paths
from fleetmeter_contract.files import create_private

# what a queued reading was collected for; earlier in this tuple = dropped first when the outbox is full
KINDS = ("supplies", "alerts", "meters")
DEFAULT_KIND = "meters"  # readings queued without a kind (poll --upload) carry meters: keep them longest
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Queued:
    id: int
    document: dict


@dataclass
class Dropped:
    """Readings removed to stay within the disk bound, by kind."""

    counts: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return any(self.counts.values())

    def __str__(self) -> str:
        return ", ".join(f"{n} {kind}" for kind, n in self.counts.items() if n)


class Outbox:
    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        create_private(path)
        self.path = path
        self.max_bytes = max_bytes
        with closing(self._connect()) as conn, conn:
            conn.execute("CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                         "document TEXT NOT NULL, queued_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)")
            columns = {row[1] for row in conn.execute("PRAGMA table_info(outbox)")}
            if "kind" not in columns:  # outboxes written before kinds existed: everything is kept longest
                conn.execute(f"ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT '{DEFAULT_KIND}'")
            if "size" not in columns:
                conn.execute("ALTER TABLE outbox ADD COLUMN size INTEGER NOT NULL DEFAULT 0")
                conn.execute("UPDATE outbox SET size = length(document)")
            conn.execute("CREATE INDEX IF NOT EXISTS outbox_kind ON outbox (kind, id)")
            conn.execute("CREATE TABLE IF NOT EXISTS rejected (id INTEGER PRIMARY KEY, document TEXT NOT NULL, "
                         "queued_at TEXT NOT NULL, reason TEXT NOT NULL, "
                         "rejected_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def put(self, document: dict, kind: str = DEFAULT_KIND) -> int:
        return self.put_many([document], kind)[0]

    def put_many(self, documents: list[dict], kind: str = DEFAULT_KIND) -> list[int]:
        """Queue documents in one transaction; returns their ids once they are on disk."""
        if kind not in KINDS:
            raise ValueError(f"unknown reading kind {kind!r}")
        texts = [json.dumps(document, separators=(",", ":")) for document in documents]
        with closing(self._connect()) as conn, conn:
            ids = [conn.execute("INSERT INTO outbox (document, kind, size) VALUES (?, ?, ?)",
                                (text, kind, len(text))).lastrowid for text in texts]
        return ids

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

    def queued_bytes(self) -> int:
        with closing(self._connect()) as conn:
            return conn.execute("SELECT coalesce(sum(size), 0) FROM outbox").fetchone()[0]

    def counts(self) -> dict[str, int]:
        with closing(self._connect()) as conn:
            found = dict(conn.execute("SELECT kind, count(*) FROM outbox GROUP BY kind").fetchall())
        return {kind: found.get(kind, 0) for kind in KINDS}

    def enforce_limit(self) -> Dropped:
        """Drop the oldest readings of the most expendable kind until the queue fits in max_bytes."""
        dropped = Dropped({kind: 0 for kind in KINDS})
        with closing(self._connect()) as conn, conn:
            excess = conn.execute("SELECT coalesce(sum(size), 0) FROM outbox").fetchone()[0] - self.max_bytes
            for kind in KINDS:
                if excess <= 0:
                    break
                victims, freed = [], 0
                for row_id, size in conn.execute("SELECT id, size FROM outbox WHERE kind = ? ORDER BY id", (kind,)):
                    if freed >= excess:
                        break
                    victims.append((row_id,))
                    freed += size
                conn.executemany("DELETE FROM outbox WHERE id = ?", victims)
                dropped.counts[kind] = len(victims)
                excess -= freed
        return dropped


def agent_outbox(max_bytes: int = DEFAULT_MAX_BYTES) -> Outbox:
    return Outbox(agent_paths().data / "outbox.db", max_bytes)
