"""Tables of the web foundation shared by the customer portal and the dealer console: users, sessions, and the
login-failure windows that throttle password guessing. All in the database, so any number of `serve`
processes share them."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table

from server_stub.db.tables import UTCDateTime, metadata

# kind: dealer (role admin | staff | read_only) or portal (a customer; role is NULL). Emails are stored
# lower-cased and are unique across both kinds: one address, one login.
web_users = Table(
    "web_users", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200)),
    Column("password_hash", String(255), nullable=False),  # argon2id (server_stub.web.passwords)
    Column("role", String(16)),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime),
)

# `id` is the SHA-256 of the cookie's value (a leaked table does not hand out live sessions). A session
# without a user is the anonymous one a login form is served in (its CSRF token protects the login POST).
web_sessions = Table(
    "web_sessions", metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("web_users.id", ondelete="CASCADE"), index=True),
    Column("area", String(16), nullable=False),  # the area it was opened in: portal | console
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False, index=True),
)

# Failed logins per key ("email:..." and "addr:..."), counted in a window that starts at the first failure.
web_login_failures = Table(
    "web_login_failures", metadata,
    Column("key", String(400), primary_key=True),
    Column("window_start", UTCDateTime, nullable=False),
    Column("failures", Integer, nullable=False),
)
