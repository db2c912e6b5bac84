"""Ingest derives assets and history in the readings' transaction, on SQLite and PostgreSQL: identity within a
client, meter reads, supply observations (changes and one a day), alert events, the latest state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from fleet_peers import T0, add_agent, count, ingest, reading
from server_stub.db.tables import (alert_events, asset_latest, assets, meter_reads, readings,
                                   supply_observations)
from server_stub.fleet.devices import list_devices


def asset_ids(engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(readings.c.asset_id).order_by(readings.c.id)).scalars())


def test_same_printer_through_two_agents_of_one_client_is_one_asset(engine):
    first, second = add_agent(engine, "north", "Acme"), add_agent(engine, "south", "Acme")
    assert ingest(engine, first, [reading("W492KB03439")]) == 1
    assert ingest(engine, second, [reading("W492KB03439", at=T0 + timedelta(hours=1), total=1100)]) == 1
    [one, same] = asset_ids(engine)
    assert one == same and count(engine, assets) == 1
    with engine.connect() as conn:
        latest = conn.execute(select(asset_latest)).one()
    assert (latest.readings, latest.counters["total"], latest.agent_id) == (2, 1100, second)
    assert count(engine, meter_reads, meter_reads.c.meter == "total") == 2


def test_same_serial_under_two_clients_is_two_assets(engine):
    acme, other = add_agent(engine, "acme-1", "Acme"), add_agent(engine, "globex-1", "Globex")
    ingest(engine, acme, [reading("W492KB03439", total=1000)])
    ingest(engine, other, [reading("W492KB03439", total=55)])
    mine, theirs = asset_ids(engine)
    assert mine != theirs
    with engine.connect() as conn:
        clients = dict(conn.execute(select(assets.c.id, assets.c.client_id)).all())
        totals = dict(conn.execute(select(meter_reads.c.asset_id, meter_reads.c.value)
                                   .where(meter_reads.c.meter == "total")).all())
    assert clients[mine] != clients[theirs]
    assert (totals[mine], totals[theirs]) == (1000, 55)  # Globex's agent wrote nothing into Acme's asset


def test_moved_printer_stays_one_asset(engine):
    first, second = add_agent(engine, "floor-1", "Acme"), add_agent(engine, "floor-2", "Acme")
    ingest(engine, first, [reading("X3B8022793", address="10.0.0.5")])
    ingest(engine, second, [reading("X3B8022793", address="10.9.0.77", at=T0 + timedelta(days=1))])
    assert len(set(asset_ids(engine))) == 1
    with engine.connect() as conn:
        [device] = list_devices(conn)
    assert (device.address, device.agent, device.readings) == ("10.9.0.77", "floor-2", 2)


def test_placeholder_serials_are_no_identity(engine):
    agent = add_agent(engine, "a", "Acme")
    ingest(engine, agent, [reading("XXXXXXXXXX", mac="00:11:22:33:44:01", address="10.0.0.1"),
                           reading("XXXXXXXXXX", mac="00:11:22:33:44:02", address="10.0.0.2"),
                           reading("unknown", mac="00:11:22:33:44:03", address="10.0.0.3")])
    ingest(engine, agent, [reading("0000000000", mac="00-11-22-33-44-01", address="10.0.0.9",
                                   at=T0 + timedelta(hours=1))])
    first, second, third, moved = asset_ids(engine)
    assert len({first, second, third}) == 3  # one placeholder shared by three printers: three assets
    assert moved == first  # same MAC, another placeholder and address: the same printer
    with engine.connect() as conn:
        assert set(conn.execute(select(assets.c.serial)).scalars()) == {None}


def test_manufacturer_spelled_differently_stays_one_asset(engine):
    agent = add_agent(engine, "a", "Acme")
    ingest(engine, agent, [reading("CNB1234567", manufacturer="Hewlett-Packard")])
    ingest(engine, agent, [reading("CNB1234567", manufacturer="HP", at=T0 + timedelta(hours=1))])
    ingest(engine, agent, [reading("CNB1234567", manufacturer="HP Inc.", at=T0 + timedelta(hours=2))])
    assert len(set(asset_ids(engine))) == 1


def test_hourly_identical_readings_write_one_observation_a_day(engine):
    agent = add_agent(engine, "a", "Acme")
    hourly = [reading("VNCRC48198", at=T0 + timedelta(hours=h), total=1000 + h) for h in range(48)]
    for start in range(0, 48, 12):  # four uploads of twelve
        ingest(engine, agent, hourly[start:start + 12])
    black = supply_observations.c.supply_index == 1
    assert count(engine, supply_observations, black) == 2  # day one, day two
    assert count(engine, meter_reads, meter_reads.c.meter == "total") == 48
    ingest(engine, agent, [reading("VNCRC48198", at=T0 + timedelta(hours=48, minutes=5), black=39.0)])
    assert count(engine, supply_observations, black) == 3  # a change is written at once
    with engine.connect() as conn:
        [changed] = conn.execute(select(supply_observations).where(black, supply_observations.c.percent == 39.0)).all()
        waste = conn.execute(select(supply_observations).where(supply_observations.c.supply_index == 2)).first()
    assert changed.level == 39 and changed.state == "ok" and changed.reading_id is not None
    assert (waste.supply_class, waste.level, waste.percent, waste.state) == ("receptacle", -3, None, "some_remaining")


def test_alert_opened_then_cleared(engine):
    agent = add_agent(engine, "a", "Acme")
    ingest(engine, agent, [reading("R9L0309954", alerts=("markerTonerAlmostEmpty",)),
                           reading("R9L0309954", at=T0 + timedelta(hours=1), alerts=("markerTonerAlmostEmpty",
                                                                                      "jam"))])
    ingest(engine, agent, [reading("R9L0309954", at=T0 + timedelta(hours=2), alerts=("jam",))])
    ingest(engine, agent, [reading("R9L0309954", at=T0 + timedelta(hours=3))])
    with engine.connect() as conn:
        events = {e.code: e for e in conn.execute(select(alert_events))}
    assert set(events) == {"markerTonerAlmostEmpty", "jam"}  # each opened once, not once per reading
    toner, jam = events["markerTonerAlmostEmpty"], events["jam"]
    assert (toner.opened_at, toner.cleared_at) == (T0, T0 + timedelta(hours=2))
    assert (jam.opened_at, jam.cleared_at) == (T0 + timedelta(hours=1), T0 + timedelta(hours=3))


def test_duplicate_readings_derive_nothing_twice(engine):
    agent = add_agent(engine, "a", "Acme")
    batch = [reading("EP335FDCENSN08", at=T0 + timedelta(hours=h)) for h in range(3)]
    assert ingest(engine, agent, batch) == 3
    assert ingest(engine, agent, batch) == 0
    assert count(engine, meter_reads) == 9
    with engine.connect() as conn:
        assert conn.execute(select(asset_latest.c.readings)).scalar_one() == 3


def test_an_older_reading_arriving_later_counts_but_keeps_the_newer_state(engine):
    """A late delivery (or an import) of an older reading: the latest state stays the newer reading's."""
    first, second = add_agent(engine, "north", "Acme"), add_agent(engine, "south", "Acme")
    assert ingest(engine, first, [reading("W492KB03439", at=T0 + timedelta(hours=2), total=1200,
                                          address="10.0.0.40")]) == 1
    assert ingest(engine, second, [reading("W492KB03439", at=T0, total=1000)]) == 1
    with engine.connect() as conn:
        latest = conn.execute(select(asset_latest)).one()
    assert (latest.readings, latest.counters["total"], latest.collected_at, latest.agent_id, latest.address) == \
        (2, 1200, T0 + timedelta(hours=2), first, "10.0.0.40")
    assert ingest(engine, second, [reading("W492KB03439", at=T0 + timedelta(hours=3), total=1300)]) == 1
    with engine.connect() as conn:
        latest = conn.execute(select(asset_latest)).one()
    assert (latest.readings, latest.counters["total"], latest.collected_at, latest.agent_id, latest.address) == \
        (3, 1300, T0 + timedelta(hours=3), second, "10.0.0.36")


def test_concurrent_uploads_about_the_same_printers_neither_deadlock_nor_lose_counts(engine):
    """Two agents of one client reach the same printers and upload at once, in opposite orders: every upload is
    stored (no deadlock between their latest-state updates) and each asset counts every reading."""
    import threading

    serials = [f"CONC{n:04d}" for n in range(40)]
    first, second = add_agent(engine, "north", "Acme"), add_agent(engine, "south", "Acme")
    ingest(engine, first, [reading(serial) for serial in serials])  # the assets and their latest state exist
    errors: list[BaseException] = []

    def upload(agent: int, order: list[str], minute: int) -> None:
        try:
            for batch in range(6):
                at = T0 + timedelta(minutes=minute + 2 * batch)
                ingest(engine, agent, [reading(serial, at=at) for serial in order])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(first, serials, 1)),
               threading.Thread(target=upload, args=(second, serials[::-1], 2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
    with engine.connect() as conn:
        counts = set(conn.execute(select(asset_latest.c.readings)).scalars())
    assert counts == {13}  # the first upload and 6 from each agent


def test_retention_removes_old_raw_readings_and_keeps_history(engine):
    from server_stub.db.engine import utcnow
    from server_stub.fleet.remote_config import set_entry
    from server_stub.worker.tasks import TASKS

    agent = add_agent(engine, "a", "Acme")
    now = utcnow().replace(microsecond=0)
    ingest(engine, agent, [reading("AA2M021115700", at=now - timedelta(days=d)) for d in (45, 20, 1)])
    with engine.begin() as conn:
        assert TASKS["readings_retention"].run(conn) == 0  # default 400 days: all kept
        set_entry(conn, "global", "", "server.readings_retention", "30d")
        assert TASKS["readings_retention"].run(conn) == 1
    assert count(engine, readings) == 2
    assert count(engine, meter_reads, meter_reads.c.meter == "total") == 3  # history outlives raw readings


def test_listing_built_by_the_database_equals_the_rows(engine, monkeypatch):
    import json

    from server_stub.fleet import device_listing
    from server_stub.fleet.devices import devices_json

    first, second = add_agent(engine, "a", "Acme"), add_agent(engine, "b", "Globex")
    ingest(engine, first, [reading("W492KB03439", alerts=("jam",)), reading(None, mac="00:11:22:33:44:55")])
    ingest(engine, second, [reading("W492KB03439", at=T0 + timedelta(hours=2), total=700)])
    monkeypatch.setattr(device_listing, "STREAM_ROWS", 2)  # more than one piece
    with engine.connect() as conn:
        rows = [row.to_json() for row in list_devices(conn)]
        streamed = devices_json(conn)
        assert json.loads(streamed) == {"devices": rows}
        assert json.loads(devices_json(conn, client="Globex"))["devices"] == [r for r in rows if r["client"] == "Globex"]
        assert devices_json(conn, client="Nobody") == '{"devices":[]}'
    assert len(rows) == 3 and rows[0]["latest_reading_at"] == "2026-11-01T08:00:00Z"


def test_supply_pages_remaining_is_kept_and_validated(engine):
    """A supply's `pages_remaining` (Brother's remaining-pages records) reaches its observation; a supply
    without it stays null (unknown); a negative count is refused at the boundary."""
    agent = add_agent(engine, "a", "Acme")
    doc = reading("E78999K1N654321", manufacturer="Brother")
    doc["supplies"][0]["pages_remaining"] = 2600
    ingest(engine, agent, [doc])
    with engine.connect() as conn:
        stored = dict(conn.execute(select(supply_observations.c.supply_index,
                                          supply_observations.c.pages_remaining)).all())
    assert stored == {1: 2600, 2: None}
    doc["supplies"][0]["pages_remaining"] = -1
    with pytest.raises(ValueError, match="pages_remaining"):
        ingest(engine, agent, [doc])
