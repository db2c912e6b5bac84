"""Matching, the request queue and the job creation rules on SQLite and PostgreSQL (issue #12)."""

from __future__ import annotations

import pytest

from jobs_scenario import engine, load, pg_engine, reported  # noqa: F401 (fixtures)
from server_stub.assets.registry import set_field
from server_stub.jobs import matching
from server_stub.jobs.contracts import contract_settings, set_contract
from server_stub.db.engine import utcnow
from server_stub.jobs.requests import (RequestError, add_request, add_request_by_serial,
                                       complete_requests_for_replacement, list_requests, sync, sync_if_due)
from server_stub.jobs.rules import set_status, show_job
from server_stub.jobs.stock import relate_stock

STOCK = ("part_code,description,colour,class,yield_pages\n"
         "K-100,Black toner,black,toner,12000\n"
         "C-200,Cyan toner,cyan,toner,\n"  # no rated yield
         "Y-400,Yellow toner,yellow,toner,9000\n"
         "K-RELATED,Black toner (model),black,toner,10000\n")
RELATED = "model,part_code\nMP C3002,C-200\nMP C3002,K-RELATED\nMP C3002,Y-400\n"
CONTRACT_HEADER = ("number,serial,status,default_stock_black,default_stock_cyan,default_stock_magenta,"
                   "default_stock_yellow,monitor,threshold_override_percent\n")


def test_exact_custom_serial_and_suffix_matching(engine):
    first, second = reported(engine, "Acme", "W492KB03439", "E175M930012")
    with engine.begin() as conn:
        set_field(conn, second, matching.CUSTOM_SERIAL, "ERP-77")
        assert matching.match_serial(conn, " w492kb03439 ") == matching.Match(first, "serial", (first,))
        assert matching.match_serial(conn, "erp-77").asset_id == second
        assert matching.match_serial(conn, "KB03439") == matching.Match(first, "suffix", (first,))
        too_short = "03439"[-(matching.SUFFIX_MIN - 1):]
        assert matching.match_serial(conn, too_short).how == "none"


def test_shared_suffix_is_a_conflict_until_linked_by_hand(engine):
    [mine] = reported(engine, "Acme", "W492KB03439")
    [theirs] = reported(engine, "Globex", "X1KB03439")
    with engine.begin() as conn:
        found = matching.match_serial(conn, "KB03439")
        assert (found.asset_id, found.how, set(found.candidates)) == (None, "conflict", {mine, theirs})
        with pytest.raises(RequestError) as refused:
            add_request_by_serial(conn, "KB03439", "1.1", "dealer")
        assert str(mine) in str(refused.value) and str(theirs) in str(refused.value)
        load_contract = CONTRACT_HEADER + "C-9,KB03439,active,,,,,on,\n"
    result = load(engine, "contracts", load_contract)
    assert result.stored == 1 and "unmatched" in result.notes[0]
    with engine.begin() as conn:
        [conflict] = matching.conflicts(conn)
        assert (conflict.kind, set(conflict.candidates)) == ("serial", {str(mine), str(theirs)})
        matching.link(conn, "kb03439", mine)
    with engine.begin() as conn:
        assert matching.match_serial(conn, "KB03439").asset_id == mine  # remembered
        assert matching.conflicts(conn) == []
        assert contract_settings(conn, mine).contract == "C-9"
        matching.link(conn, "W492KB03439", None)  # unlinked: even the exact serial no longer matches
        assert matching.match_serial(conn, "W492KB03439").how == "unlinked"


def test_two_active_contracts_on_one_serial_make_no_job(engine):
    [asset] = reported(engine, "Acme", "W492KB03439")
    load(engine, "contracts", CONTRACT_HEADER + "C-1,W492KB03439,active,,,,,on,\nC-2,W492KB03439,active,,,,,on,\n")
    with engine.begin() as conn:
        [conflict] = matching.conflicts(conn)
        assert (conflict.kind, conflict.candidates) == ("contracts", ("C-1", "C-2"))
        request = add_request(conn, asset, "1.1", "reorder")
        result = sync(conn)
        assert (result.actioned, len(result.conflicts)) == (0, 1)
        assert [r["status"] for r in list_requests(conn)] == ["outstanding"]
        set_contract(conn, "C-1", "status", "finished")
        assert sync(conn).actioned == 1
        [row] = list_requests(conn)
    assert (row["id"], row["status"], row["comment"]) == (request, "actioned", f"job {row['job']}")


def test_booked_job_is_extended_a_job_in_progress_is_not(engine):
    [asset] = reported(engine, "Acme", "W492KB03439")
    with engine.begin() as conn:
        add_request(conn, asset, "1.1", "reorder")
        sync(conn)
        add_request(conn, asset, "1.2", "portal", requested_by="reception")
        assert add_request(conn, asset, "1.2", "dealer") == list_requests(conn, "outstanding")[0]["id"]  # one open
        sync(conn)
        [first] = {r["job"] for r in list_requests(conn)}
        assert [line["supply"] for line in show_job(conn, first)["lines"]] == ["1.1", "1.2"]
        set_status(conn, first, "in_progress")
        add_request(conn, asset, "1.3", "reorder")
        sync(conn)
        second = list_requests(conn)[-1]["job"]
        assert second != first
        old, new = show_job(conn, first), show_job(conn, second)
    assert new["status"] == "booked" and [line["supply"] for line in new["lines"]] == ["1.3"]
    assert any(f"job {first} " in c["text"] and "in progress" in c["text"] for c in new["comments"])
    assert any(f"job {second} " in c["text"] for c in old["comments"])


def test_stock_from_contract_then_related_then_none_and_missing_yield(engine):
    [asset] = reported(engine, "Acme", "W492KB03439")
    load(engine, "stock", STOCK)
    load(engine, "related_stock", RELATED)
    load(engine, "contracts", CONTRACT_HEADER + "C-1,W492KB03439,active,K-100,,,,on,\n")
    with engine.begin() as conn:
        for key in ("1.1", "1.2", "1.3", "1.4"):
            add_request(conn, asset, key, "reorder")
        sync(conn)
        job = show_job(conn, list_requests(conn)[0]["job"])
    lines = {line["colour"]: line for line in job["lines"]}
    assert (lines["black"]["part_code"], lines["black"]["stock_source"]) == ("K-100", "contract")  # not K-RELATED
    assert (lines["cyan"]["part_code"], lines["cyan"]["stock_source"]) == ("C-200", "related")
    assert (lines["yellow"]["part_code"], lines["yellow"]["yield_pages"]) == ("Y-400", 9000)
    assert lines["magenta"]["part_code"] is None
    texts = [c["text"] for c in job["comments"]]
    assert any("no stock for the magenta toner" in t for t in texts)
    assert any("C-200" in t and "no rated yield" in t for t in texts)
    assert len(texts) == 2  # black and yellow are complete
    assert lines["cyan"]["level_percent"] == 50  # what the agent reported (jobs_scenario levels)
    assert lines["cyan"]["days_left"] is None  # no forecast yet


def test_last_job_that_supplied_the_consumable(engine):
    [asset] = reported(engine, "Acme", "W492KB03439")
    with engine.begin() as conn:
        add_request(conn, asset, "1.1", "reorder")
        sync(conn)
        first = list_requests(conn)[0]["job"]
        set_status(conn, first, "invoiced")
        complete_requests_for_replacement(conn, asset, "1.1", utcnow())
        add_request(conn, asset, "1.1", "reorder")
        sync(conn)
        second = list_requests(conn)[-1]["job"]
        job = show_job(conn, second)
    assert second != first and job["lines"][0]["last_job"] == first
    assert not any(f"job {first}" in c["text"] for c in job["comments"])  # an invoiced job is closed: no cross comment


def test_contract_settings_for_reorder(engine):
    [asset, bare] = reported(engine, "Acme", "W492KB03439", "E175M930012")
    load(engine, "contracts", CONTRACT_HEADER + "C-1,W492KB03439,active,,,,,off,15\n")
    with engine.begin() as conn:
        settings = contract_settings(conn, asset)
        assert (settings.contract, settings.monitor, settings.threshold_override_percent) == ("C-1", False, 15.0)
        set_contract(conn, "C-1", "monitor", "on")
        set_contract(conn, "C-1", "threshold_override_percent", None)
        assert (contract_settings(conn, asset).monitor, contract_settings(conn, asset).threshold_override_percent) \
            == (True, None)
        assert contract_settings(conn, bare).contract is None


def test_worker_sync_waits_for_the_interval(engine):
    [asset] = reported(engine, "Acme", "W492KB03439")
    with engine.begin() as conn:
        add_request(conn, asset, "1.1", "reorder")
        assert sync_if_due(conn).actioned == 1
        add_request(conn, asset, "1.2", "reorder")
        assert sync_if_due(conn) is None  # within the hour
        assert [r["status"] for r in list_requests(conn)] == ["actioned", "outstanding"]


def test_an_assets_own_related_stock_comes_before_its_models(engine):
    first, second = reported(engine, "Acme", "W492KB03439", "E175M930012")
    load(engine, "stock", STOCK)
    load(engine, "related_stock", RELATED)
    with engine.begin() as conn:
        assert relate_stock(conn, "K-100", asset_id=second) is True
        assert relate_stock(conn, "K-100", asset_id=second) is False
        for asset in (first, second):
            add_request(conn, asset, "1.1", "reorder")
        sync(conn)
        parts = {job["asset_id"]: job["lines"][0]["part_code"]
                 for job in (show_job(conn, r["job"]) for r in list_requests(conn))}
    assert parts == {first: "K-RELATED", second: "K-100"}


def test_a_supply_the_printer_does_not_report_is_refused(engine):
    [asset] = reported(engine, "Acme", "W492KB03439")
    with engine.begin() as conn:
        with pytest.raises(RequestError, match="no supply 1.9"):
            add_request(conn, asset, "1.9", "portal")
        with pytest.raises(RequestError, match="DEVICE.INDEX"):
            add_request(conn, asset, "black", "portal")
        with pytest.raises(RequestError, match="source"):
            add_request(conn, asset, "1.1", "email")


def test_concurrent_syncs_place_each_request_once(pg_engine):
    """Processes sharing PostgreSQL (the worker in several `serve --worker`, `jobs sync` by hand) sync at once."""
    import threading

    from sqlalchemy import func, select

    from server_stub.jobs.tables import consumable_jobs, job_lines

    engine = pg_engine
    ids = reported(engine, "Acme", *(f"SER{n:07d}" for n in range(6)))
    with engine.begin() as conn:
        for asset in ids:
            for key in ("1.1", "1.2", "1.3", "1.4"):
                add_request(conn, asset, key, "reorder")
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def run() -> None:
        try:
            start.wait()
            with engine.begin() as conn:
                sync(conn)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(job_lines)).scalar_one() == len(ids) * 4
        per_asset = conn.execute(select(consumable_jobs.c.asset_id, func.count()).group_by(
            consumable_jobs.c.asset_id)).all()
        assert sorted(per_asset) == [(asset, 1) for asset in sorted(ids)]  # one Booked job each
        assert {r["status"] for r in list_requests(conn)} == {"actioned"}
