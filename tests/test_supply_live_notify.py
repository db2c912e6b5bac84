"""Notification mails through a real SMTP server (aiosmtpd on loopback), on SQLite and PostgreSQL: an order
placed by the live supply worker, the daily digest, an agent that stopped reporting (with the serials behind
it), the dealer's own text, and `notify test` from the command line."""

from __future__ import annotations

import email
import subprocess
import sys
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update

from fleet_peers import add_agent, ingest
from server_stub.db import migrate
from server_stub.db.engine import make_engine, utcnow
from server_stub.db.tables import agents
from server_stub.fleet.clients import get_client
from server_stub.fleet.remote_config import set_entry
from server_stub.fleet.state import raise_silence_alerts
from server_stub.notify import outbox, settings as notify_settings
from server_stub.supply import live, order_book
from supply_helpers import Printer, at
from test_supply_live import put_on_site, two_printers
from trust_peers import DATABASES, Database, environment, free_tcp_port


class Inbox:
    def __init__(self) -> None:
        self.mails: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        message = email.message_from_bytes(envelope.content)
        message["X-Rcpt"] = ",".join(envelope.rcpt_tos)
        self.mails.append(message)
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_tcp_port())
    controller.start()
    yield controller.port, inbox
    controller.stop()


@pytest.fixture(params=DATABASES)
def db(request, tmp_path):
    database = Database(request.param, tmp_path)
    engine = make_engine(database.url)
    migrate.upgrade(engine)
    yield database, engine
    engine.dispose()
    database.drop()


def configure(engine, port: int, client: str, **settings) -> None:
    with engine.begin() as conn:
        set_entry(conn, "global", "", "server.smtp_host", "127.0.0.1")
        set_entry(conn, "global", "", "server.smtp_port", port)
        set_entry(conn, "global", "", "server.mail_from", "dealer@example.test")
        notify_settings.store(conn, get_client(conn, client).id,
                              {"recipients": ["ops@acme.test", "boss@acme.test"]} | settings)


def send(engine, *, digest: bool = False) -> int:
    with engine.begin() as conn:
        outbox.agent_events(conn)
        return outbox.send_due(conn, digest=digest)


def body(mail) -> str:
    return mail.get_payload(decode=True).decode()


def test_order_placed_mail_with_the_dealers_own_text(db, smtp):
    _, engine = db
    port, inbox = smtp
    agent = add_agent(engine, "north", "Acme")
    configure(engine, port, "Acme", templates={"order_placed": {
        "subject": "Toner for {{ client }}: order {{ order.id }}",
        "body": "{% for l in order.lines %}{{ l.device }} x{{ l.quantity }}\n{% endfor %}{{ ''.__class__ }}"}})
    printers = two_printers()
    ingest(engine, agent, [p.day(0) for p in printers])
    put_on_site(engine, "Acme", "HQ")
    for day in range(1, 44):
        ingest(engine, agent, [p.day(day) for p in printers])
        with engine.begin() as conn:
            live.run_pending(conn, at(day, 19))
    assert send(engine) == 1 and send(engine) == 0  # sent once
    [mail] = inbox.mails
    assert mail["Subject"].startswith("Toner for Acme: order ")
    assert mail["X-Rcpt"] == "ops@acme.test,boss@acme.test" and mail["From"] == "dealer@example.test"
    lines = body(mail).splitlines()
    assert lines[:2] == ["PX0000001A x1", "PX0000002A x1"]
    assert "class 'str'" not in body(mail)  # the sandbox hides Python internals


def test_agent_stopped_reporting_mails_with_serials_then_final_in_the_digest(db, smtp):
    _, engine = db
    port, inbox = smtp
    agent = add_agent(engine, "north", "Acme")
    configure(engine, port, "Acme", categories={"agent": {"enabled": True, "digest": True}})
    printer = Printer(serial="PX0000007C")
    ingest(engine, agent, [printer.day(0)])
    with engine.begin() as conn:
        conn.execute(update(agents).where(agents.c.id == agent).values(last_seen_at=utcnow() - timedelta(days=8)))
        raise_silence_alerts(conn)
    assert send(engine) == 0  # agent mails go in the digest here
    assert send(engine, digest=True) == 1
    [digest] = inbox.mails
    assert "digest" in digest["Subject"] and "PX0000007C" in body(digest) and "north" in body(digest)
    with engine.begin() as conn:
        conn.execute(update(agents).where(agents.c.id == agent).values(last_seen_at=utcnow() - timedelta(days=31)))
        raise_silence_alerts(conn)
    assert send(engine, digest=True) == 1
    assert "Final notice" in body(inbox.mails[1]) and "PX0000007C" in body(inbox.mails[1])
    assert send(engine, digest=True) == 0


def test_category_off_and_notify_cli(db, smtp, tmp_path):
    database, engine = db
    port, inbox = smtp
    add_agent(engine, "north", "Acme")
    env = environment(tmp_path / "home", FLEETMETER_DB=database.url)
    run = lambda *a, expect=0: _cli(env, expect, *a)  # noqa: E731
    run("config", "set", "--global", "server.smtp_host", "127.0.0.1")
    run("config", "set", "--global", "server.smtp_port", str(port))
    assert "no recipients" in run("notify", "test", "--client", "Acme", expect=1).stderr
    assert "not an e-mail address" in run("notify", "set", "--client", "Acme", "--recipients", "nobody",
                                          expect=1).stderr
    (tmp_path / "t.txt").write_text("Hello {{ client }\nbody")
    assert "template error" in run("notify", "set", "--client", "Acme", "--template", "test", str(tmp_path / "t.txt"),
                                   expect=1).stderr
    run("notify", "set", "--client", "Acme", "--recipients", "ops@acme.test", "--off", "agent")
    assert "ops@acme.test" in run("notify", "show", "--client", "Acme").stdout
    run("notify", "test", "--client", "Acme")
    assert [m["Subject"] for m in inbox.mails] == ["Fleetmeter test mail for Acme"]
    with engine.begin() as conn:  # the agent category is off: nothing queued
        assert outbox.queue(conn, get_client(conn, "Acme").id, "agent", "agent_stopped", "x",
                            {"client": "Acme", "agent": "a", "message": "m", "serials": []}) is False


def _cli(env, expect, *args):
    done = subprocess.run([sys.executable, "-m", "server_stub.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == expect, f"{args} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done


def test_back_ordered_and_shipped_again_mails(db, smtp):
    _, engine = db
    port, inbox = smtp
    agent = add_agent(engine, "north", "Acme")
    configure(engine, port, "Acme")
    printers = two_printers()
    ingest(engine, agent, [p.day(0) for p in printers])
    put_on_site(engine, "Acme", "HQ")
    for day in range(1, 44):
        ingest(engine, agent, [p.day(day) for p in printers])
        with engine.begin() as conn:
            live.run_pending(conn, at(day, 19))
            placed = order_book.list_orders(conn, client="Acme")
        if placed:
            break
    assert send(engine) == 1  # order placed
    [order] = placed
    db_id, until = int(order.id[1:]), at(day + 20)
    with engine.begin() as conn:
        order_book.change_order(conn, db_id, "backorder", at(day + 1, 9), until=until, note="toner <out> at supplier")
    assert send(engine) == 1 and send(engine) == 0
    mail = inbox.mails[-1]
    assert mail["Subject"] == f"Order {db_id} back-ordered"
    text = body(mail)
    assert f"expected on {until.date().isoformat()}" in text and "Note: toner <out> at supplier" in text
    assert "PX0000001A" in text and "PX0000002A" in text
    with engine.begin() as conn:  # the worker does not deliver it at the lead time: it waits for the date
        live.run_pending(conn, at(day + 8, 19))  # the lead time (5 days) has passed, the date has not
        assert order_book.get_order(conn, db_id).status.value == "installation_in_progress"
        order_book.change_order(conn, db_id, "backorder", at(day + 9, 9), until=None, note=None)  # a new date: news
    assert send(engine) == 1 and "no delivery date known yet" in body(inbox.mails[-1])
    with engine.begin() as conn:
        order_book.change_order(conn, db_id, "ship", at(day + 10, 9))
        shown = live.order_json(order_book.get_order(conn, db_id))
    assert shown["backordered"] is None and shown["shipped_at"].startswith(at(day + 10).date().isoformat())
    assert send(engine) == 1 and inbox.mails[-1]["Subject"] == f"Order {db_id} shipped to Acme"
