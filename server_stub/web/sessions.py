"""Server-side sessions in the database: the cookie holds a random token, the table its SHA-256, the user, the
area it was opened in, its CSRF token (synchronizer pattern) and when it was last used. A session unused for
longer than the area's inactivity timeout is over."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from server_stub.db.engine import utcnow
from server_stub.web.tables import web_sessions, web_users

# Sessions untouched this long are deleted whenever someone logs in (any area's timeout is shorter).
PURGE_AFTER = timedelta(days=2)


@dataclass(frozen=True)
class Session:
    token: str  # the cookie value (only known when just created)
    digest: str
    user_id: int | None
    csrf_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(conn: Connection, area: str, user_id: int | None = None) -> Session:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    conn.execute(web_sessions.insert().values(id=_digest(token), user_id=user_id, area=area, csrf_token=csrf,
                                              created_at=now, last_seen_at=now))
    return Session(token, _digest(token), user_id, csrf)


def load_session(conn: Connection, token: str | None, area: str, timeout: timedelta) -> Session | None:
    """The live session for this cookie value, touched; None when absent, of another area, expired or its
    user disabled (an expired one is deleted)."""
    if not token or len(token) > 100:
        return None
    digest = _digest(token)
    row = conn.execute(select(web_sessions, web_users.c.disabled).outerjoin(
        web_users, web_users.c.id == web_sessions.c.user_id).where(web_sessions.c.id == digest)).first()
    if row is None or row.area != area:
        return None
    now = utcnow()
    if row.last_seen_at + timeout < now or row.disabled:
        conn.execute(delete(web_sessions).where(web_sessions.c.id == digest))
        return None
    conn.execute(update(web_sessions).where(web_sessions.c.id == digest).values(last_seen_at=now))
    return Session(token, digest, row.user_id, row.csrf_token)


def login(conn: Connection, previous: Session | None, area: str, user_id: int) -> Session:
    """A new session (new id and CSRF token: no session fixation) for the user who just logged in."""
    if previous is not None:
        end_session(conn, previous)
    conn.execute(delete(web_sessions).where(web_sessions.c.last_seen_at < utcnow() - PURGE_AFTER))
    return open_session(conn, area, user_id)


def end_session(conn: Connection, session: Session) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.id == session.digest))


def end_user_sessions(conn: Connection, user_id: int) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))


def csrf_ok(session: Session | None, presented: str | None) -> bool:
    return bool(session and presented) and hmac.compare_digest(session.csrf_token, presented)
