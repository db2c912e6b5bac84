"""Rate limits held in the database, so every serve process sharing it counts together: a one-minute window
per bucket ("heartbeat:<agent id>", "enrol-address:<ip>", "enrol-key:<hash>"). A refused attempt counts too
(a flood stays refused). Each hit commits on its own: a rate-limited request still uses up its window."""

from __future__ import annotations

from sqlalchemy import case, delete
from sqlalchemy.engine import Connection, Engine

from server_stub.db.engine import upsert_insert, utcnow
from server_stub.db.tables import rate_limits


def hit(conn: Connection, bucket: str, per_minute: int) -> int | None:
    """Count one attempt in the bucket's current minute; None if allowed, else seconds until the next one."""
    if per_minute <= 0:
        return None
    now = utcnow().timestamp()
    window = int(now) // 60
    insert = upsert_insert(conn, rate_limits).values(bucket=bucket[:120], window=window, count=1)
    count = conn.execute(insert.on_conflict_do_update(index_elements=["bucket"], set_={
        "count": case((rate_limits.c.window == window, rate_limits.c.count + 1), else_=1),
        "window": window}).returning(rate_limits.c.count)).scalar_one()
    return None if count <= per_minute else max(1, 60 - int(now) % 60)


def check(engine: Engine, limits: list[tuple[str, int]]) -> int | None:
    """Hit every (bucket, per_minute) in one committed transaction; the longest wait if any is exhausted."""
    with engine.begin() as conn:
        waits = [hit(conn, bucket, per_minute) for bucket, per_minute in limits]
    return max((w for w in waits if w is not None), default=None)


def prune_windows(conn: Connection) -> int:
    """Windows older than the current minute count nothing any more."""
    return conn.execute(delete(rate_limits).where(rate_limits.c.window < int(utcnow().timestamp()) // 60)).rowcount
