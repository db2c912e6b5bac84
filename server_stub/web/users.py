"""Web users (dealer console and customer portal) and password login with throttling.

Throttling lives in the database (web_login_failures) so every `serve` process counts the same failures:
after MAX_FAILURES failed logins for one e-mail (or MAX_ADDRESS_FAILURES from one client address: an office
behind one NAT address shares it) within WINDOW, logins for it are refused until the window ends, whether the
password is right or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from server_stub.db.engine import utcnow
from server_stub.web.passwords import hash_password, needs_rehash, verify_password
from server_stub.web.tables import web_login_failures, web_users

KINDS = ("dealer", "portal")
DEALER_ROLES = ("admin", "staff", "read_only")
MAX_FAILURES = 5
MAX_ADDRESS_FAILURES = 50
WINDOW = timedelta(minutes=15)


class UserError(Exception):
    """A user cannot be made or changed as asked (one line for the CLI)."""


class LoginRefused(Exception):
    def __init__(self, reason: str, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass(frozen=True)
class User:
    id: int
    kind: str
    email: str
    name: str | None
    role: str | None
    disabled: bool


def normal_email(email: str) -> str:
    email = email.strip().lower()
    local, at, domain = email.partition("@")
    if not (local and at and domain) or any(c.isspace() or ord(c) < 32 for c in email) or len(email) > 320:
        raise UserError(f"not an e-mail address: {email!r}")
    return email


def add_user(conn: Connection, kind: str, email: str, password: str, *, role: str | None = None,
             name: str | None = None) -> int:
    if kind not in KINDS:
        raise UserError(f"kind must be one of {', '.join(KINDS)}")
    if kind == "dealer" and role not in DEALER_ROLES:
        raise UserError(f"a dealer user needs a role: {', '.join(DEALER_ROLES)}")
    if kind == "portal" and role is not None:
        raise UserError("portal users have no role")
    email = normal_email(email)
    if conn.execute(select(web_users.c.id).where(web_users.c.email == email)).first():
        raise UserError(f"a user {email} exists already")
    try:
        hashed = hash_password(password)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return conn.execute(web_users.insert().values(kind=kind, email=email, name=name, password_hash=hashed, role=role,
                                                  disabled=False, created_at=utcnow())).inserted_primary_key[0]


def _user(row) -> User:
    return User(row.id, row.kind, row.email, row.name, row.role, row.disabled)


def get_user(conn: Connection, user_id: int) -> User | None:
    row = conn.execute(select(web_users).where(web_users.c.id == user_id)).first()
    return _user(row) if row else None


def find_user(conn: Connection, email: str) -> User:
    row = conn.execute(select(web_users).where(web_users.c.email == email.strip().lower())).first()
    if row is None:
        raise UserError(f"no user {email!r}")
    return _user(row)


def set_disabled(conn: Connection, email: str, disabled: bool = True) -> User:
    user = find_user(conn, email)
    conn.execute(update(web_users).where(web_users.c.id == user.id).values(disabled=disabled))
    if disabled:  # a disabled user's open sessions end now
        from server_stub.web.sessions import end_user_sessions
        end_user_sessions(conn, user.id)
    return user


def _blocked_for(conn: Connection, keys: list[str], now: datetime) -> int | None:
    rows = conn.execute(select(web_login_failures).where(web_login_failures.c.key.in_(keys))).all()
    ends = [r.window_start + WINDOW for r in rows if r.window_start + WINDOW > now
            and r.failures >= (MAX_ADDRESS_FAILURES if r.key.startswith("addr:") else MAX_FAILURES)]
    return int((max(ends) - now).total_seconds()) + 1 if ends else None


def _count_failure(conn: Connection, keys: list[str], now: datetime) -> None:
    for key in keys:
        row = conn.execute(select(web_login_failures).where(web_login_failures.c.key == key)).first()
        if row is None:
            conn.execute(web_login_failures.insert().values(key=key, window_start=now, failures=1))
        elif row.window_start + WINDOW <= now:
            conn.execute(update(web_login_failures).where(web_login_failures.c.key == key)
                         .values(window_start=now, failures=1))
        else:
            conn.execute(update(web_login_failures).where(web_login_failures.c.key == key)
                         .values(failures=web_login_failures.c.failures + 1))


def authenticate(conn: Connection, kind: str, email: str, password: str, remote: str | None) -> User:
    """The user of `kind` with this e-mail and password, or LoginRefused (same message for every cause but
    throttling). The caller commits even on refusal: the failure must count."""
    now = utcnow()
    email = email.strip().lower()[:320]
    keys = [f"email:{email}"] + ([f"addr:{remote}"] if remote else [])
    wait = _blocked_for(conn, keys, now)
    if wait:
        raise LoginRefused("too many failed logins; try again later", wait)
    row = conn.execute(select(web_users).where(web_users.c.email == email)).first()
    good = verify_password(row.password_hash if row else None, password)
    if not good or row is None or row.disabled or row.kind != kind:
        _count_failure(conn, keys, now)
        raise LoginRefused("wrong e-mail or password")
    conn.execute(delete(web_login_failures).where(web_login_failures.c.key == keys[0]))
    values: dict = {"last_login_at": now}
    if needs_rehash(row.password_hash):
        values["password_hash"] = hash_password(password)
    conn.execute(update(web_users).where(web_users.c.id == row.id).values(**values))
    return _user(row)


def list_users(conn: Connection, kind: str) -> list[tuple[User, object]]:
    """Users of `kind` by e-mail, each with when it last logged in."""
    return [(_user(row), row.last_login_at) for row in
            conn.execute(select(web_users).where(web_users.c.kind == kind).order_by(web_users.c.email))]
