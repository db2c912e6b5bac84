"""The ERP API on a real server (uvicorn on 127.0.0.1) and a request closed by a replacement an agent uploads
over HTTP (the worker's supply engine detects it), on SQLite and PostgreSQL (issue #12)."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import timedelta

import pytest
import requests

from agent.remote import send_heartbeat
from agent.upload import deliver
from jobs_scenario import cmyk_reading
from server_stub.api.app import Limits
from server_stub.db.engine import utcnow
from server_stub.db.tables import assets
from server_stub.jobs import erp
from server_stub.jobs.contracts import set_contract
from server_stub.jobs.csvio import import_csv
from server_stub.jobs.requests import OPEN, add_request, list_requests
from trust_peers import DATABASES, environment, in_transaction, start_site, stop_site


@pytest.fixture(params=DATABASES)
def site(request, tmp_path):
    site = start_site(request.param, tmp_path, Limits())
    yield site
    stop_site(site)


def http(method: str, url: str, **kwargs) -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False
        return session.request(method, url, timeout=30, **kwargs)


def upload(site, agent, *documents) -> None:
    for document in documents:
        agent.outbox.put(document)
    result = deliver(agent.store, agent.outbox)
    assert (result.ok, result.stored) == (True, len(documents))


def asset_of(site, serial: str) -> int:
    from sqlalchemy import select

    with site.engine.connect() as conn:
        return conn.execute(select(assets.c.id).where(assets.c.serial == serial)).scalar_one()


def test_erp_lists_and_actions_requests_only_with_a_token(site, tmp_path):
    agent = site.enrolled(tmp_path)
    upload(site, agent, cmyk_reading("W492KB03439", at=utcnow() - timedelta(minutes=5)))
    asset = asset_of(site, "W492KB03439")
    request_id = in_transaction(site, add_request, asset, "1.2", "portal")
    token = in_transaction(site, erp.add_token, "jim2")
    url = f"{site.url}/v1/erp/requests"
    first = http("GET", url)
    assert first.status_code == 401, first.text
    assert http("GET", url, headers={"Authorization": "Bearer fmerp_wrong"}).status_code == 401
    assert http("POST", f"{url}/{request_id}/actioned", json={"erp_id": "J-1"}).status_code == 401
    good = {"Authorization": f"Bearer {token}"}
    listed = http("GET", url, headers=good)
    assert listed.status_code == 200
    assert [(r["id"], r["supply"], r["source"]) for r in listed.json()["requests"]] == [(request_id, "1.2", "portal")]
    done = http("POST", f"{url}/{request_id}/actioned", json={"erp_id": "J-1"}, headers=good)
    assert (done.status_code, done.json()["status"]) == (200, "actioned")
    assert http("POST", f"{url}/{request_id}/actioned", json={"erp_id": "J-1"}, headers=good).status_code == 409
    assert http("GET", url, headers=good).json()["requests"] == []
    [row] = in_transaction(site, list_requests)
    assert (row["erp_id"], row["comment"], row["job"]) == ("J-1", "ERP J-1", None)
    in_transaction(site, erp.revoke_token, "jim2")
    assert http("GET", url, headers=good).status_code == 401
    spec = http("GET", f"{site.url}/openapi.json").json()
    assert "/v1/erp/requests" in spec["paths"] and "/v1/erp/requests/{request_id}/actioned" in spec["paths"]
    assert any(s.get("scheme") == "bearer" for s in spec["components"]["securitySchemes"].values())


def worker_once(site, tmp_path) -> None:
    """`fleetmeter-server worker --once` on the site's database: the supply task applies the new readings."""
    done = subprocess.run([sys.executable, "-m", "server_stub.cli", "worker", "--once"], capture_output=True,
                          text=True, timeout=120, env=environment(tmp_path / "worker-home", FLEETMETER_DB=site.db.url))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


def test_replacement_completes_the_request_and_a_shaken_cartridge_does_not(site, tmp_path):
    agent = site.enrolled(tmp_path)
    start = utcnow() - timedelta(hours=3)
    upload(site, agent, cmyk_reading("W492KB03439", at=start, levels=(8, 50, 60, 70)))
    asset = asset_of(site, "W492KB03439")
    asked = start + timedelta(minutes=30)  # the requests come after the first reading, before the refill
    black = in_transaction(site, lambda conn: add_request(conn, asset, "1.1", "reorder", at=asked))
    cyan = in_transaction(site, lambda conn: add_request(conn, asset, "1.2", "reorder", at=asked))
    # black is replaced (7 -> 100); cyan is shaken: it jumps 35 points (a "refill" by a plain rise rule) and
    # falls back at the next reading
    upload(site, agent, cmyk_reading("W492KB03439", at=start + timedelta(hours=1), levels=(7, 85, 60, 70)),
           cmyk_reading("W492KB03439", at=start + timedelta(hours=2), levels=(100, 50, 60, 70)))
    assert {r["status"] for r in in_transaction(site, list_requests)} == {"outstanding"}  # ingest decides nothing
    worker_once(site, tmp_path)
    rows = {r["id"]: r for r in in_transaction(site, list_requests)}
    assert rows[black]["status"] == "completed"
    assert rows[black]["completed_at"] == (start + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    assert rows[cyan]["status"] in OPEN and rows[cyan]["completed_at"] is None


def test_contract_threshold_reaches_the_agent_on_its_next_heartbeat(site, tmp_path):
    agent = site.enrolled(tmp_path)
    upload(site, agent, cmyk_reading("W492KB03439", at=utcnow() - timedelta(minutes=5)))
    default = send_heartbeat(agent.store, 0, {}, None).config.get("thresholds", {}).get("supply_low_percent")
    assert default is None  # nothing set: the agent keeps its built-in default
    with site.engine.begin() as conn:
        import_csv(conn, "contracts", io.StringIO(
            "number,serial,status,monitor,threshold_override_percent\nC-1,W492KB03439,active,on,25\n"))
    assert send_heartbeat(agent.store, 0, {}, None).config["thresholds"]["supply_low_percent"] == 25
    in_transaction(site, set_contract, "C-1", "monitor", "off")  # not monitored: no early alerts needed
    assert "thresholds" not in send_heartbeat(agent.store, 0, {}, None).config
