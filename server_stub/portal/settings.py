"""The portal's general settings (SDF KundOnline "Diverse"): global `server.portal_*` and mail keys set with
`fleetmeter-server config set --global KEY VALUE`, read here in one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.engine import Connection

from fleetmeter_contract import durations
from fleetmeter_contract.config import SERVER_PREFIX, ServerSettings
from server_stub.db.tables import config_entries
from server_stub.notify.mail import MailSettings, mail_settings

KEYS = ("portal_timeout", "portal_show_order_lines", "portal_report_email", "portal_copy_reference",
        "portal_statistics", "portal_calendar", "portal_hide_cancelled")


@dataclass(frozen=True)
class PortalSettings:
    timeout: timedelta
    show_order_lines: bool
    report_email: str  # "" = none
    copy_reference: bool
    statistics: bool
    calendar: bool
    hide_cancelled: bool
    mail: MailSettings | None  # None: no relay set (server.smtp_host)


def portal_settings(conn: Connection) -> PortalSettings:
    """One query per page: the stored global entries over the defaults."""
    stored = conn.execute(select(config_entries.c.key, config_entries.c.value).where(
        config_entries.c.scope == "global", config_entries.c.target == "",
        config_entries.c.key.in_([SERVER_PREFIX + key for key in KEYS]))).all()
    values = {key.removeprefix(SERVER_PREFIX): value for key, value in stored}
    try:
        s = ServerSettings.model_validate(values)
    except ValidationError:  # stored before values were checked: the defaults keep the portal up
        s = ServerSettings()
    return PortalSettings(durations.timedelta_of(s.portal_timeout), s.portal_show_order_lines, s.portal_report_email,
                          s.portal_copy_reference, s.portal_statistics, s.portal_calendar, s.portal_hide_cancelled,
                          mail_settings(conn))
