"""Sending e-mail through the dealer's SMTP relay (smtplib). One message per call; headers are built by the
standard library's EmailMessage, which refuses line breaks in headers (no header injection from customer text)."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy.engine import Connection

from server_stub.trust.secrets import SecretBox, is_sealed


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    sender: str
    starttls: bool = False
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 10.0


def mail_settings(conn: Connection) -> MailSettings | None:
    """The dealer's relay from the global `server.smtp_*` and `server.mail_from` settings; None when no
    `server.smtp_host` is set (then nothing is sent). The password is stored sealed (server_stub.trust.secrets)."""
    from server_stub.fleet.remote_config import server_setting
    from server_stub.paths import server_paths

    host = server_setting(conn, "server.smtp_host")
    if not host:
        return None
    password = server_setting(conn, "server.smtp_password")
    if is_sealed(password):
        box = SecretBox.load(server_paths().ca_dir)
        password = box.open(password) if box else None
    return MailSettings(host, server_setting(conn, "server.smtp_port"), server_setting(conn, "server.mail_from"),
                        bool(server_setting(conn, "server.smtp_starttls")), server_setting(conn, "server.smtp_user"),
                        password)


class MailError(Exception):
    """The message could not be handed to the relay (one line, no secrets)."""


def one_line(text: str, limit: int = 150) -> str:
    """Customer text made fit for a header: control characters to spaces, shortened."""
    clean = "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text).strip()
    return clean if len(clean) <= limit else clean[:limit - 1] + "…"


def send_mail(settings: MailSettings, to: list[str], subject: str, body: str, cc: list[str] = ()) -> str:
    """Send one plain-text message; returns its Message-ID."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = one_line(subject)
    message["Message-ID"] = make_msgid(domain=settings.sender.partition("@")[2] or None)
    message.set_content(body)
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.user and settings.password:
                smtp.login(settings.user, settings.password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"cannot send mail through {settings.host}:{settings.port}: {exc}") from None
    return message["Message-ID"]
