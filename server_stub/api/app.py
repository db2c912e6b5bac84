"""The HTTP API (FastAPI on uvicorn): enrolment and signed ingest. OpenAPI at /openapi.json, /docs."""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from fleetmeter_contract.version import __version__
from server_stub.api import erp as erp_routes
from server_stub.api import heartbeat as heartbeat_routes
from server_stub.api.http import ERRORS, BodyGuard, problem, rate_limited, replayed
from server_stub.api.models import (Batch, EnrolRequest, EnrolResponse, IngestResponse, field_path, first_problem,
                                    unstorable)
from server_stub.ingest.store import RateLimited, store_batch
from server_stub.console import routes as console_routes
from server_stub.portal import routes as portal_routes
from server_stub.web.pages import SecurityHeaders
from server_stub.metrics.server import DatabaseCollector, count_rejection
from server_stub.trust import enrolment as agent_registry
from server_stub.trust import rates
from server_stub.trust.ca import CertificateAuthority, CsrError
from server_stub.trust.nonces import Replayed
from server_stub.trust.secrets import SecretBox
from server_stub.trust.signatures import Rejected, RequestVerifier
from server_stub.worker.runner import run_forever


@dataclass(frozen=True)
class Limits:
    max_body: int = 4 * 1024 * 1024  # bytes per request
    max_readings: int = 500  # readings per batch
    rate_per_minute: int = 120  # ingest requests per agent per minute (0: unlimited)
    heartbeats_per_minute: int = 12  # per agent (agents send one every 30 s at most often)
    enrolments_per_minute: int = 30  # enrolment attempts per remote address
    enrolments_per_key: int = 5  # enrolment attempts per agent key, per minute
    signature_window: timedelta = timedelta(minutes=5)
    cert_days: int = 365


def create_app(engine: Engine, ca: CertificateAuthority, limits: Limits = Limits(),
               run_worker: bool = False) -> FastAPI:
    """`run_worker`: also run the periodic tasks in this process (the embedded SQLite default; with
    PostgreSQL, `serve --worker` or a separate `fleetmeter-server worker`). Stored credentials are opened with
    the secret key beside the CA, or FLEETMETER_SECRET_KEY (server_stub.trust.secrets)."""
    box = SecretBox.load(ca.directory)
    verifier = RequestVerifier(engine, ca, limits.signature_window)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        stop = threading.Event()
        worker = threading.Thread(target=run_forever, args=(engine, stop), name="worker", daemon=True)
        if run_worker:
            worker.start()
        yield
        stop.set()
        if run_worker:
            worker.join(timeout=10)

    app = FastAPI(title="Fleetmeter server", version=__version__, lifespan=lifespan,
                  description="Agents enrol with a one-time key and a CSR, then upload batches of "
                              "fleetmeter.device/1 readings signed with RFC 9421 HTTP Message Signatures "
                              "(covering @method, @path and an RFC 9530 Content-Digest, with created and nonce).")

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        error = exc.errors()[0]
        loc = tuple(error["loc"])[1:] if error["loc"] and error["loc"][0] == "body" else tuple(error["loc"])
        if error["type"] == "json_invalid":
            return problem(400, "malformed JSON", error.get("msg"))
        field = field_path(tuple(p for p in loc if isinstance(p, (str, int))))
        return problem(400, "invalid document", f"{field or 'body'}: {error['msg']}", field or None)

    app.add_middleware(BodyGuard, max_body=limits.max_body)

    @app.get("/healthz", summary="Liveness check")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/enroll", status_code=201, response_model=EnrolResponse, responses=ERRORS,
              summary="Exchange a one-time agent key and a CSR for an agent certificate")
    def enroll(body: EnrolRequest, request: Request) -> EnrolResponse | JSONResponse:
        remote = request.client.host if request.client else "-"
        wait = rates.check(engine, [(f"enrol-address:{remote}", limits.enrolments_per_minute),
                                    (f"enrol-key:{agent_registry.hash_key(body.key)[:32]}",
                                     limits.enrolments_per_key)])
        if wait is not None:
            return rate_limited(f"at most {limits.enrolments_per_minute} enrolment attempts per minute per address "
                                f"and {limits.enrolments_per_key} per key", wait)
        try:
            with engine.begin() as conn:
                name, client, issued = agent_registry.enrol(conn, ca, body.key, body.csr, body.hostname,
                                                            limits.cert_days)
        except agent_registry.EnrolmentRefused as exc:
            return problem(exc.status, exc.error, exc.detail)
        except CsrError as exc:
            return problem(400, "invalid document", str(exc), "csr")
        return EnrolResponse(agent=name, client=client, certificate=issued.pem, ca_certificate=ca.pem,
                             fingerprint=issued.fingerprint, not_after=issued.not_after)

    @app.post("/v1/ingest", response_model=IngestResponse, responses=ERRORS,
              summary="Store a signed batch of readings and the agent's heartbeat",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": {"$ref": "#/components/schemas/Batch"}}}}})
    async def ingest(request: Request) -> IngestResponse | JSONResponse:
        body = await request.body()  # capped and checked for duplicate keys by BodyGuard
        remote = request.client.host if request.client else None
        answer = await run_in_threadpool(_ingest, request.method, str(request.url), dict(request.headers), body,
                                         remote)
        if isinstance(answer, JSONResponse) and answer.status_code >= 400:
            await run_in_threadpool(_count_rejection, json.loads(answer.body)["error"])
        return answer

    def _count_rejection(reason: str) -> None:
        with engine.begin() as conn:
            count_rejection(conn, reason)

    def _ingest(method: str, url: str, headers: dict[str, str], body: bytes,
                remote: str | None) -> IngestResponse | JSONResponse:
        with engine.connect() as conn:  # one checkout for the signature's look-ups and the store
            try:
                signer = verifier.verify(method, url, headers, body, conn)
            except Rejected as exc:
                return problem(exc.status, exc.error, exc.detail)
            except Replayed:
                return replayed()
            try:
                batch = Batch.parse(body)
            except ValidationError as exc:
                found = first_problem(exc)
                return problem(400, found.error, found.detail, found.field)
            if len(batch.readings) > limits.max_readings:
                return problem(400, "invalid document", f"readings: at most {limits.max_readings} per batch",
                               "readings")
            found = unstorable(body)
            if found:
                return problem(400, found.error, found.detail, found.field)
            try:
                with conn.begin():
                    stored = store_batch(conn, signer.agent_id, batch, body, remote, limits.rate_per_minute)
            except RateLimited as exc:
                return rate_limited(f"at most {limits.rate_per_minute} uploads per minute per agent",
                                    exc.retry_after)
        return IngestResponse(received=stored.received, stored=stored.stored, duplicates=stored.duplicates)

    heartbeat_routes.add_routes(app, engine, verifier, box, limits.heartbeats_per_minute)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(engine))

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus text format (server_stub/metrics/server.py), the same from every serve process."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    erp_routes.add_routes(app, engine)
    portal_routes.add_routes(app, engine)  # HTML pages under /portal (server_stub/portal, server_stub/web)
    console_routes.add_routes(app, engine)  # the dealer's console under / (server_stub/console)
    app.add_middleware(SecurityHeaders)

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            batch = Batch.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(batch.pop("$defs", {}))
            components["Batch"] = batch
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    return app
