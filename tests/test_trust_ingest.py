"""Enrolment, signed uploads and their refusals, end to end over HTTP on 127.0.0.1, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ed25519
from requests_http_signature import HTTPSignatureAuth, algorithms

from agent.certs import keys
from agent.certs.enroll import enrol
from agent.certs.errors import TrustError
from agent.certs.signing import COVERED
from agent.certs.store import CertStore
from agent.outbox import Outbox
from agent.upload import deliver, heartbeat
from fleetmeter_contract.reading import DeviceReading, Identity, Supply
from server_stub.trust import enrolment as registry
from server_stub.api.app import Limits
from server_stub.db.tables import agents
from server_stub.db.tables import readings as readings_table
from sqlalchemy import select, text
from trust_peers import DATABASES, in_transaction, send, start_site, stop_site

LIMITS = Limits(max_body=256 * 1024, max_readings=50, rate_per_minute=20, enrolments_per_minute=0)


@pytest.fixture(scope="module", params=DATABASES)
def site(request, tmp_path_factory):
    site = start_site(request.param, tmp_path_factory.mktemp(f"site-{request.param}"), LIMITS)
    yield site
    stop_site(site)


def reading(serial: str, total: int = 1000, at: str = "2026-11-22T10:00:00Z") -> dict:
    doc = DeviceReading(address="10.0.0.36", port=161, collected_at=at, is_printer=True,
                        identity=Identity(serial=serial, manufacturer="Ricoh", model="MP C3002"),
                        supplies=[Supply(index=1, description="Black Toner", type="toner", color="black",
                                         class_="consumed", unit="percent", level=40, max_capacity=100,
                                         percent=40.0, state="ok")])
    doc.counters["total"] = total
    return doc.to_json()


def batch(agent, documents: list[dict]) -> bytes:
    return json.dumps({"agent": heartbeat("127.0.0.1", 0), "readings": documents}).encode()


def test_enrol_upload_and_heartbeat(site, tmp_path):
    agent = site.enrolled(tmp_path)
    assert oct(agent.store.key_file.stat().st_mode & 0o777) == "0o600"
    agent.outbox.put(reading("S-1"))
    result = deliver(agent.store, agent.outbox)
    assert (result.ok, result.status, result.stored, result.queued) == (True, 200, 1, 0)
    assert site.readings_of(agent.name) == 1
    listed = {row.name: row for row in in_transaction(site, registry.list_agents)}[agent.name]
    assert listed.state == "enrolled" and listed.remote_ip == "127.0.0.1" and listed.version
    assert listed.fingerprint == agent.store.enrolment().fingerprint and listed.last_seen_at is not None


def test_p256_agent_key(site, tmp_path):
    agent = site.enrolled(tmp_path, key_type="p256")
    agent.outbox.put(reading("S-P256"))
    assert deliver(agent.store, agent.outbox).stored == 1


def test_duplicate_batch_stored_once_success_both_times(site, tmp_path):
    agent = site.enrolled(tmp_path)
    body = batch(agent, [reading("D-1"), reading("D-2"), reading("D-1", at="2026-11-22T11:00:00Z")])
    first, second = send(agent.signed(site.url, body)), send(agent.signed(site.url, body))
    assert first.status_code == second.status_code == 200
    assert first.json() == {"received": 3, "stored": 3, "duplicates": 0}
    assert second.json() == {"received": 3, "stored": 0, "duplicates": 3}
    assert site.readings_of(agent.name) == 3


def test_tampered_body_is_refused(site, tmp_path):
    agent = site.enrolled(tmp_path)
    prepared = agent.signed(site.url, batch(agent, [reading("T-1", total=1000)]))
    prepared.body = prepared.body.replace(b'"total": 1000', b'"total": 9000')
    response = send(prepared)
    assert response.status_code == 401 and response.json()["error"] == "invalid signature"
    assert "digest" in response.json()["detail"].lower()
    assert site.readings_of(agent.name) == 0


def test_wrong_key_is_refused(site, tmp_path):
    agent = site.enrolled(tmp_path)
    impostor = HTTPSignatureAuth(signature_algorithm=algorithms.ED25519,
                                 key=keys.private_pem(ed25519.Ed25519PrivateKey.generate()),
                                 key_id=agent.store.enrolment().fingerprint, covered_component_ids=COVERED,
                                 use_nonce=True)
    response = send(agent.signed(site.url, batch(agent, [reading("W-1")]), auth=impostor))
    assert response.status_code == 401 and response.json()["error"] == "invalid signature"
    assert site.readings_of(agent.name) == 0


def test_unsigned_and_unknown_certificate_are_refused(site, tmp_path):
    agent = site.enrolled(tmp_path)
    response = requests.post(site.url + "/v1/ingest", data=batch(agent, [reading("U-1")]), timeout=10)
    assert response.status_code == 401 and response.json()["error"] == "request not signed"
    stranger = HTTPSignatureAuth(signature_algorithm=algorithms.ED25519,
                                 key=keys.private_pem(ed25519.Ed25519PrivateKey.generate()), key_id="0" * 64,
                                 covered_component_ids=COVERED, use_nonce=True)
    response = send(agent.signed(site.url, batch(agent, [reading("U-1")]), auth=stranger))
    assert response.status_code == 401 and response.json()["error"] == "unknown certificate"


def test_replayed_request_is_refused(site, tmp_path):
    agent = site.enrolled(tmp_path)
    prepared = agent.signed(site.url, batch(agent, [reading("R-1")]))
    assert send(prepared).status_code == 200
    replay = send(prepared)
    assert replay.status_code == 401 and replay.json()["error"] == "replayed request"
    assert site.readings_of(agent.name) == 1


class SkewedSigner(HTTPSignatureAuth):
    skew = timedelta(0)

    def get_created(self, request):
        return super().get_created(request) + self.skew


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)], ids=["slow", "fast"])
def test_clock_skew_beyond_window_is_refused(site, tmp_path, skew):
    agent = site.enrolled(tmp_path)
    signer = SkewedSigner(signature_algorithm=algorithms.ED25519, key=agent.store.key_file.read_bytes(),
                          key_id=agent.store.enrolment().fingerprint, covered_component_ids=COVERED,
                          use_nonce=True)
    signer.skew = skew
    response = send(agent.signed(site.url, batch(agent, [reading("C-1")]), auth=signer))
    assert response.status_code == 401 and response.json()["error"] == "signature outside time window"
    assert "clock" in response.json()["detail"]
    signer.skew = timedelta(minutes=-4)  # inside the window: accepted
    assert send(agent.signed(site.url, batch(agent, [reading("C-1")]), auth=signer)).status_code == 200


def test_expired_and_reused_agent_keys(site, tmp_path):
    expired = site.new_key(valid_for=timedelta(seconds=-1))
    with pytest.raises(TrustError, match="agent key expired"):
        enrol(CertStore(tmp_path / "a"), site.url, expired.key)
    assert not (tmp_path / "a" / "key.pem").exists()
    fresh = site.new_key()
    enrol(CertStore(tmp_path / "b"), site.url, fresh.key)
    with pytest.raises(TrustError, match="already used"):
        enrol(CertStore(tmp_path / "c"), site.url, fresh.key)
    with pytest.raises(TrustError, match="unknown agent key"):
        enrol(CertStore(tmp_path / "d"), site.url, "fmk_" + "x" * 43)


def test_second_machine_refused_until_first_is_revoked(site, tmp_path):
    first = site.enrolled(tmp_path / "one")
    second = CertStore(tmp_path / "two")
    with pytest.raises(TrustError, match=f"revoke that certificate first.*agents revoke {first.name}"):
        enrol(second, site.url, site.new_key(first.name).key)
    in_transaction(site, registry.revoke_agent, first.name)
    enrol(second, site.url, site.new_key(first.name).key)
    assert second.enrolment().agent == first.name


def test_revocation_stops_uploads_and_reenrolment_delivers_kept_readings(site, tmp_path):
    agent = site.enrolled(tmp_path)
    agent.outbox.put(reading("V-1", at="2026-11-22T10:00:00Z"))
    assert deliver(agent.store, agent.outbox).ok
    assert in_transaction(site, registry.revoke_agent, agent.name) == 1

    agent.outbox.put(reading("V-1", at="2026-11-22T11:00:00Z"))
    refused = deliver(agent.store, agent.outbox)
    assert (refused.ok, refused.status, refused.queued) == (False, 403, 1)
    assert "revoked" in refused.message and "enroll --server" in refused.message
    assert agent.store.enrolment().revoked_at
    seen = site.count("SELECT count(*) FROM nonces")
    agent.outbox.put(reading("V-1", at="2026-11-22T12:00:00Z"))
    again = deliver(agent.store, agent.outbox)  # stopped locally: the server is not asked again
    assert again.status == 403 and again.queued == 2 and site.count("SELECT count(*) FROM nonces") == seen

    enrol(agent.store, site.url, site.new_key(agent.name).key)
    assert agent.store.enrolment().revoked_at is None
    delivered = deliver(agent.store, agent.outbox)
    assert (delivered.ok, delivered.stored, delivered.queued) == (True, 2, 0)
    assert site.readings_of(agent.name) == 3


def test_oversize_body_is_refused(site, tmp_path):
    agent = site.enrolled(tmp_path)
    huge = reading("O-1")
    huge["warnings"] = ["x" * 1000] * 300  # ~300 KB > 256 KB cap
    response = send(agent.signed(site.url, batch(agent, [huge])))
    assert response.status_code == 413 and response.json()["error"] == "body too large"
    assert site.readings_of(agent.name) == 0


def test_malformed_json_names_the_problem(site, tmp_path):
    agent = site.enrolled(tmp_path)
    response = send(agent.signed(site.url, b'{"agent": {"version": "1"'))
    assert response.status_code == 400 and response.json()["error"] == "malformed JSON"


@pytest.mark.parametrize("field,breaks", [
    ("readings[1].collected_at", lambda doc: doc.update(collected_at="yesterday")),
    ("readings[1].counters.total", lambda doc: doc["counters"].update(total="5")),
    ("readings[1].schema", lambda doc: doc.update(schema="fleetmeter.device/9")),
    ("readings[1].supplies[0].percent", lambda doc: doc["supplies"][0].update(percent=140.0)),
    ("readings[1].identity", lambda doc: doc.pop("identity")),
    # #16: a reading from the far future would stay "latest" for ever; no printer counts 40 digits
    ("readings[1].collected_at", lambda doc: doc.update(collected_at="9998-01-01T00:00:00Z")),
    ("readings[1].collected_at", lambda doc: doc.update(
        collected_at=(datetime.now(timezone.utc) + timedelta(days=2)).isoformat())),
    ("readings[1].counters.total", lambda doc: doc["counters"].update(total=10**39)),
    ("readings[1].markers[0].life_count", lambda doc: doc.update(markers=[
        {"device_index": 1, "index": 1, "life_count": 10**13}])),
])
def test_schema_violation_names_the_field_and_stores_nothing(site, tmp_path, field, breaks):
    agent = site.enrolled(tmp_path)
    bad = reading("M-2")
    breaks(bad)
    response = send(agent.signed(site.url, batch(agent, [reading("M-1"), bad])))
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert site.readings_of(agent.name) == 0


def test_too_many_readings_per_batch(site, tmp_path):
    agent = site.enrolled(tmp_path)
    documents = [reading(f"N-{i}") for i in range(LIMITS.max_readings + 1)]
    response = send(agent.signed(site.url, batch(agent, documents)))
    assert response.status_code == 400 and response.json()["field"] == "readings"
    assert site.readings_of(agent.name) == 0


def test_rate_limit_per_agent(site, tmp_path):
    agent, other = site.enrolled(tmp_path), site.enrolled(tmp_path)
    if datetime.now().second > 50:  # keep all requests inside one minute window
        time.sleep(61 - datetime.now().second)
    codes = [send(agent.signed(site.url, batch(agent, []))).status_code for _ in range(LIMITS.rate_per_minute + 1)]
    assert codes[:-1] == [200] * LIMITS.rate_per_minute
    last = send(agent.signed(site.url, batch(agent, [reading("L-1")])))
    assert last.status_code == 429 and int(last.headers["Retry-After"]) <= 60
    assert site.readings_of(agent.name) == 0
    assert send(other.signed(site.url, batch(other, []))).status_code == 200


def test_several_servers_share_nonces_and_state(site, tmp_path):
    """A second API process on the same database refuses a request the first one already accepted."""
    from trust_peers import LiveServer

    from server_stub.api.app import create_app
    from server_stub.db.engine import make_engine

    engine = make_engine(site.db.url)
    twin = LiveServer(create_app(engine, site.ca, LIMITS))
    try:
        agent = site.enrolled(tmp_path)
        prepared = agent.signed(site.url, batch(agent, [reading("P-1")]))
        assert send(prepared).status_code == 200
        prepared.url = prepared.url.replace(site.url, twin.url)
        assert send(prepared).json()["error"] == "replayed request"
        in_transaction(site, registry.revoke_agent, agent.name)
        response = send(agent.signed(twin.url, batch(agent, [reading("P-2")])))
        assert response.status_code == 403 and response.json()["error"] == "certificate revoked"
    finally:
        twin.stop()
        engine.dispose()


@pytest.mark.parametrize("raw,error,field", [
    (b'"profile": null', "malformed JSON", None),
    (b'"location": null', "invalid document", "readings[0].identity.location"),
], ids=["nan", "nul"])
def test_values_no_database_can_hold_are_refused(site, tmp_path, raw, error, field):
    agent = site.enrolled(tmp_path)
    body = batch(agent, [reading("Z-1")])
    # NaN in a key the schema does not know (a newer agent's): only the raw-body check can refuse it
    replacement = b'"profile": null, "newer_key": NaN' if b"profile" in raw else b'"location": "Floor\\u00002"'
    response = send(agent.signed(site.url, body.replace(raw, replacement, 1)))
    assert response.status_code == 400 and response.json()["error"] == error
    assert response.json().get("field") == field
    assert site.readings_of(agent.name) == 0


@pytest.mark.parametrize("layout", ["agent first", "readings first"])
def test_each_reading_is_stored_as_the_exact_text_sent(site, tmp_path, layout):
    """Whatever the key order and spacing of the batch, a stored reading is its text in the signed body."""
    agent = site.enrolled(tmp_path)
    documents = [json.dumps(reading(f"EXACT-{layout[0]}{i}"), indent=1) for i in range(3)]
    readings = '[ ' + ' ,\n'.join(documents) + ' ]'
    hb = json.dumps(heartbeat("127.0.0.1", 0))
    body = (f'{{ "agent" : {hb},\n "readings" :{readings} }}\n' if layout == "agent first"
            else f'{{"readings": {readings}, "agent": {hb}}}')
    response = send(agent.signed(site.url, body.encode()))
    assert response.status_code == 200 and response.json()["stored"] == 3
    with site.engine.connect() as conn:
        stored = conn.execute(select(readings_table.c.document).join_from(readings_table, agents)
                              .where(agents.c.name == agent.name).order_by(readings_table.c.id)).scalars().all()
    assert [json.loads(d) if isinstance(d, str) else d for d in stored] == [json.loads(d) for d in documents]
    if site.engine.dialect.name == "postgresql":  # json keeps the text; SQLite's json_each returns it minified
        with site.engine.connect() as conn:
            texts = conn.execute(text("SELECT CAST(document AS text) FROM readings r JOIN agents a ON a.id = "
                                      "r.agent_id WHERE a.name = :n ORDER BY r.id"), {"n": agent.name}).scalars().all()
        assert texts == documents


def test_devices_list_shows_latest_reading_as_sent(site, tmp_path):
    from server_stub.fleet.devices import list_devices

    agent = site.enrolled(tmp_path)
    for at, total in (("2026-11-22T09:00:00Z", 100), ("2026-11-22T10:15:00+01:00", 200),
                      ("2026-11-22T09:30:00Z", 150)):
        agent.outbox.put(reading("LIST-1", total=total, at=at))
    assert deliver(agent.store, agent.outbox).stored == 3
    [device] = [d for d in in_transaction(site, list_devices) if d.agent == agent.name]
    shown = device.to_json()
    assert (shown["serial"], shown["counters"]["total"], shown["readings"]) == ("LIST-1", 150, 3)
    assert shown["latest_reading_at"] == "2026-11-22T09:30:00Z"
    sent = reading("LIST-1", total=150, at="2026-11-22T09:30:00Z")
    assert shown["supplies"][0]["percent"] == sent["supplies"][0]["percent"]
    assert shown["address"] == sent["address"] and shown["model"] == sent["identity"]["model"]


def test_new_key_for_enrolled_agent_says_it_waits_for_revocation(site, tmp_path):
    agent = site.enrolled(tmp_path)
    assert site.new_key(agent.name).live_certificate
    in_transaction(site, registry.revoke_agent, agent.name)
    assert not site.new_key(agent.name).live_certificate


def test_old_nonces_are_pruned(site, tmp_path):
    from server_stub.trust.nonces import prune_nonces

    agent = site.enrolled(tmp_path)
    assert deliver(agent.store, agent.outbox).ok
    assert site.count("SELECT count(*) FROM nonces") >= 1
    time.sleep(0.01)
    with site.engine.begin() as conn:
        assert prune_nonces(conn, timedelta(0)) >= 1
    assert site.count("SELECT count(*) FROM nonces") == 0


def test_a_reading_the_server_refuses_is_set_aside_and_the_rest_delivered(site, tmp_path):
    agent = site.enrolled(tmp_path)
    bad = reading("X-2")
    bad["collected_at"] = "yesterday"
    for doc in (reading("X-1"), bad, reading("X-3")):
        agent.outbox.put(doc)
    result = deliver(agent.store, agent.outbox)
    assert (result.ok, result.stored, result.queued) == (False, 2, 0)
    assert "1 refused by the server" in result.message
    assert agent.outbox.rejected() == 1 and site.readings_of(agent.name) == 2


def test_uploads_go_through_the_enrolment_proxy(site, tmp_path):
    """Enrolment and uploads through a forwarding proxy on loopback: the proxy relays them, the server
    stores the reading."""
    from http_proxy import Proxy

    proxy = Proxy()
    try:
        new = site.new_key(None)
        agent_store = CertStore(tmp_path / new.name / "certs")
        outbox = Outbox(tmp_path / new.name / "outbox.db")
        enrol(agent_store, site.url, new.key, proxy=proxy.url)
        outbox.put(reading("S-PROXY"))
        result = deliver(agent_store, outbox)
        assert (result.ok, result.stored) == (True, 1), result.message
        assert site.readings_of(new.name) == 1
        authority = site.url.split("://", 1)[1]
        assert len(proxy.seen) >= 2, proxy.seen  # enrolment and the upload
        assert all(authority in line for line in proxy.seen), proxy.seen
    finally:
        proxy.stop()
