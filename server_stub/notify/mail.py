"""Sending e-mail through the dealer's SMTP relay (smtplib). One message per call; headers are built by the
standard library's EmailMessage, which refuses line breaks in headers (no header injection from customer text)."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    sender: str
    timeout: float = 10.0


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
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"cannot send mail through {settings.host}:{settings.port}: {exc}") from None
    return message["Message-ID"]
