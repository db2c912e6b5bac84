"""API tokens for an ERP that takes the consumable request queue itself (`fleetmeter-server erp token add NAME`).

A token is 32 random bytes shown once; only its SHA-256 is stored (a random token needs no slow hash: there is
nothing to guess), and a presented token is looked up by its hash and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from server_stub.db.engine import utcnow
from server_stub.jobs.tables import erp_tokens

PREFIX = "fmerp_"


class TokenError(ValueError):
    pass


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_token(conn: Connection, name: str) -> str:
    """A new token for `name` (shown only now)."""
    token = PREFIX + secrets.token_urlsafe(32)
    try:
        with conn.begin_nested():
            conn.execute(insert(erp_tokens).values(name=name, token_hash=_hash(token), created_at=utcnow()))
    except IntegrityError:
        raise TokenError(f"a token named {name!r} exists; revoke it first: fleetmeter-server erp token revoke "
                         f"{name}") from None
    return token


def revoke_token(conn: Connection, name: str) -> None:
    """The token stops working at once (its row goes; the name can be given a new token)."""
    if not conn.execute(erp_tokens.delete().where(erp_tokens.c.name == name)).rowcount:
        raise TokenError(f"no token named {name!r}")


def list_tokens(conn: Connection) -> list[dict]:
    return [{"name": r.name, "created_at": r.created_at.isoformat(),
             "last_used_at": r.last_used_at.isoformat() if r.last_used_at else None}
            for r in conn.execute(select(erp_tokens).order_by(erp_tokens.c.name))]


def authenticate(conn: Connection, token: str | None) -> str | None:
    """The token's name when it is a live token, else None."""
    if not token:
        return None
    digest = _hash(token)
    row = conn.execute(select(erp_tokens).where(erp_tokens.c.token_hash == digest)).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    conn.execute(update(erp_tokens).where(erp_tokens.c.id == row.id).values(last_used_at=utcnow()))
    return row.name
