"""Mails queued in the transaction of the event they tell about (one per event: a dedupe key), rendered from
the client's own text or the default, and sent by the worker: at once, or in the client's daily digest.

Events: order placed / shipped / back-ordered (consumable), an agent that stopped reporting (agent; after
`server.stopped_reporting_after`, final after `server.final_alert_after`, with the serials of the printers
behind it), and a test mail.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from server_stub.db.engine import upsert_insert, utcnow
from server_stub.db.tables import agent_alerts, agents, assets, clients
from server_stub.fleet.state import ALERT_KINDS
from server_stub.notify import settings as notify_settings
from server_stub.notify.mail import MailError, mail_settings, send_mail
from server_stub.notify.settings import ENV, Category, Kind, NotifySettings
from server_stub.notify.tables import notify_outbox

log = logging.getLogger("fleetmeter.notify")

DEFAULTS: dict[str, tuple[str, str]] = {
    "order_placed": ("Order {{ order.id }} placed for {{ client }} ({{ order.site }})",
                     "Order {{ order.id }} ({{ order.rule }}) for {{ client }}:\n"
                     "{% for line in order.lines %}- {{ line.device }} supply {{ line.supply }}: {{ line.quantity }} x "
                     "{{ line.part_number or 'cartridge' }} ({{ line.reason }})\n{% endfor %}"
                     "{% if order.status == 'blocked' %}Blocked: waits for a manual release.\n{% endif %}"),
    "order_shipped": ("Order {{ order.id }} shipped to {{ client }}",
                      "Order {{ order.id }} for {{ client }} was shipped.\n"
                      "{% for line in order.lines %}- {{ line.device }}: {{ line.quantity }} x "
                      "{{ line.part_number or 'cartridge' }}\n{% endfor %}"),
    "order_backordered": ("Order {{ order.id }} back-ordered",
                          "Order {{ order.id }} for {{ client }} is back-ordered: "
                          "{% if order.backordered and order.backordered.until %}expected on "
                          "{{ order.backordered.until[:10] }}{% else %}no delivery date known yet{% endif %}.\n"
                          "{% for line in order.lines %}- {{ line.device }}: {{ line.quantity }} x "
                          "{{ line.part_number or 'cartridge' }}\n{% endfor %}"
                          "{% if order.backordered and order.backordered.note %}Note: {{ order.backordered.note }}\n"
                          "{% endif %}"),
    "agent_stopped": ("Agent {{ agent }} of {{ client }} stopped reporting",
                      "{{ message }}\nPrinters behind it: {{ serials | join(', ') or 'none known' }}\n"),
    "agent_final": ("Final notice: agent {{ agent }} of {{ client }} is silent",
                    "{{ message }}\nPrinters behind it: {{ serials | join(', ') or 'none known' }}\n"),
    "test": ("Fleetmeter test mail for {{ client }}", "This is a test of {{ client }}'s notifications.\n"),
}


def render(settings: NotifySettings, kind: Kind, context: dict[str, Any]) -> tuple[str, str]:
    own = settings.templates.get(kind)
    subject, body = (own.subject, own.body) if own else DEFAULTS[kind]
    subject = " ".join(ENV.from_string(subject).render(context).split())  # one header line, whatever was sent
    return subject[:500], ENV.from_string(body).render(context)


def queue(conn: Connection, client_id: int, category: Category, kind: Kind, dedupe_key: str,
          context: dict[str, Any], now: datetime | None = None) -> bool:
    """Queue one mail when the client has recipients and the category is on; False when not queued."""
    settings = notify_settings.load(conn, client_id)
    if settings is None or not settings.recipients or not settings.category(category).enabled:
        return False
    subject, body = render(settings, kind, context)
    inserted = conn.execute(upsert_insert(conn, notify_outbox).values(
        client_id=client_id, category=category, digest=settings.category(category).digest, dedupe_key=dedupe_key,
        subject=subject, body=body, created_at=now or utcnow())
        .on_conflict_do_nothing(index_elements=["client_id", "dedupe_key"]).returning(notify_outbox.c.id)).first()
    return inserted is not None


def order_event(conn: Connection, client_id: int, order: dict[str, Any], kind: Kind,
                now: datetime | None = None) -> bool:
    """Queue an order's mail once per event: placed once, shipped once per shipping, back-ordered once per
    back-order (a later one with a new date is news again)."""
    client = conn.execute(select(clients.c.name).where(clients.c.id == client_id)).scalar_one()
    key = f"{kind}:{order['id']}"
    if kind == "order_shipped" and order.get("shipped_at"):
        key += f":{order['shipped_at']}"
    elif kind == "order_backordered" and order.get("backordered"):
        key += f":{order['backordered']['at']}"
    return queue(conn, client_id, "consumable", kind, key, {"client": client, "order": order}, now)


def agent_events(conn: Connection, now: datetime | None = None) -> int:
    """A mail for each open stopped-reporting alert not mailed yet, with the serials behind the agent."""
    count = 0
    rows = conn.execute(select(agent_alerts.c.id, agent_alerts.c.kind, agent_alerts.c.message, agents.c.id.label("agent_id"),
                               agents.c.name, clients.c.id.label("client_id"), clients.c.name.label("client"))
                        .join(agents, agents.c.id == agent_alerts.c.agent_id)
                        .join(clients, clients.c.name == agents.c.client)
                        .where(agent_alerts.c.cleared_at.is_(None))).all()
    for row in rows:
        serials = sorted(s for s in conn.execute(select(assets.c.serial).where(
            assets.c.last_agent_id == row.agent_id, assets.c.state.in_(("active", "to_complete")))).scalars() if s)
        kind: Kind = "agent_final" if row.kind == ALERT_KINDS[1] else "agent_stopped"
        count += queue(conn, row.client_id, "agent", kind, f"agent_alert:{row.id}",
                       {"client": row.client, "agent": row.name, "message": row.message, "serials": serials}, now)
    return count


# -- sending --------------------------------------------------------------------------------------------------
def send_due(conn: Connection, *, digest: bool, now: datetime | None = None) -> int:
    """Send the queued mails (immediate ones one by one; digest ones as one mail per client); a mail that
    fails stays queued for the next run. Returns the mails sent."""
    smtp = mail_settings(conn)
    if smtp is None:
        return 0
    now = now or utcnow()
    rows = conn.execute(select(notify_outbox).where(notify_outbox.c.sent_at.is_(None),
                                                    notify_outbox.c.digest.is_(digest))
                        .order_by(notify_outbox.c.id)).all()
    by_client: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        by_client[row.client_id].append(row)
    sent = 0
    for client_id, queued in by_client.items():
        settings = notify_settings.load(conn, client_id)
        if settings is None or not settings.recipients:
            continue
        batches = [queued] if digest else [[row] for row in queued]
        for batch in batches:
            if digest:
                subject = f"Fleetmeter daily digest: {len(batch)} notification{'s' * (len(batch) != 1)}"
                body = "\n\n".join(f"{row.subject}\n{row.body}" for row in batch)
            else:
                subject, body = batch[0].subject, batch[0].body
            try:
                send_mail(smtp, settings.recipients, subject, body)
            except MailError as exc:
                log.warning("mail to client %s not sent: %s", client_id, str(exc).splitlines()[0] if str(exc) else exc)
                continue
            conn.execute(update(notify_outbox).where(notify_outbox.c.id.in_([r.id for r in batch]))
                         .values(sent_at=now))
            sent += 1
    return sent


def send_test(conn: Connection, client_id: int) -> list[str]:
    """A test mail to the client's recipients at once (NotifyError when it cannot go)."""
    settings = notify_settings.load(conn, client_id)
    if settings is None or not settings.recipients:
        raise notify_settings.NotifyError("the client has no recipients; see: fleetmeter-server notify set")
    smtp = mail_settings(conn)
    if smtp is None:
        raise notify_settings.NotifyError("no SMTP server configured; run: fleetmeter-server config set --global "
                                          "server.smtp_host HOST")
    client = conn.execute(select(clients.c.name).where(clients.c.id == client_id)).scalar_one()
    subject, body = render(settings, "test", {"client": client})
    try:
        send_mail(smtp, settings.recipients, subject, body)
    except MailError as exc:
        raise notify_settings.NotifyError(f"mail not sent: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    return settings.recipients
