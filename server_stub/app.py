"""The HTTP API (FastAPI on uvicorn): enrolment and signed ingest. OpenAPI at /openapi.json, /docs."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from agent import __version__
from server_stub import agents as agent_registry
from server_stub import heartbeat as agent_heartbeat
from server_stub.ca import CertificateAuthority, CsrError
from server_stub.ingest import RateLimited, Replayed, prune_nonces, store_batch
from server_stub.schema import (Batch, EnrolRequest, EnrolResponse, IngestResponse, Problem, field_path,
                                first_problem, unstorable)
from server_stub.signatures import RequestVerifier, Rejected


@dataclass(frozen=True)
class Limits:
    max_body: int = 4 * 1024 * 1024  # bytes per request
    max_readings: int = 500  # readings per batch
    rate_per_minute: int = 120  # ingest requests per agent per minute (0: unlimited)
    signature_window: timedelta = timedelta(minutes=5)
    cert_days: int = 365


def problem(status: int, error: str, detail: str | None = None, field: str | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(Problem(error=error, detail=detail, field=field).model_dump(exclude_none=True),
                        status_code=status, headers=headers)


ERRORS = {status: {"model": Problem} for status in (400, 401, 403, 409, 413, 429)}


def too_large(max_body: int) -> JSONResponse:
    return problem(413, "body too large", f"at most {max_body} bytes per request")


class BodyTooLarge(Exception):
    pass


async def read_capped(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


class DeclaredBodyCap:
    """413 before reading a body whose Content-Length is over the cap (every route; plain ASGI, so bodies
    are not re-wrapped). Bodies without a length are capped while read (read_capped)."""

    def __init__(self, app, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                    await too_large(self.max_body)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def create_app(engine: Engine, ca: CertificateAuthority, limits: Limits = Limits()) -> FastAPI:
    verifier = RequestVerifier(engine, ca, limits.signature_window)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        async def prune_forever() -> None:
            while True:
                await run_in_threadpool(prune_nonces, engine, 2 * limits.signature_window)
                await asyncio.sleep(60)

        task = asyncio.create_task(prune_forever())
        silence = asyncio.create_task(agent_heartbeat.watch_silence(engine))
        yield
        task.cancel()
        silence.cancel()

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

    app.add_middleware(DeclaredBodyCap, max_body=limits.max_body)

    @app.get("/healthz", summary="Liveness check")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/enroll", status_code=201, response_model=EnrolResponse, responses=ERRORS,
              summary="Exchange a one-time agent key and a CSR for an agent certificate")
    def enroll(body: EnrolRequest) -> EnrolResponse | JSONResponse:
        try:
            name, client, issued = agent_registry.enrol(engine, ca, body.key, body.csr, body.hostname,
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
        try:
            body = await read_capped(request, limits.max_body)
        except BodyTooLarge:
            return too_large(limits.max_body)
        remote = request.client.host if request.client else None
        return await run_in_threadpool(_ingest, request.method, str(request.url), dict(request.headers), body,
                                       remote)

    def _ingest(method: str, url: str, headers: dict[str, str], body: bytes,
                remote: str | None) -> IngestResponse | JSONResponse:
        try:
            signer = verifier.verify(method, url, headers, body)
        except Rejected as exc:
            return problem(exc.status, exc.error, exc.detail)
        try:
            batch = Batch.model_validate_json(body)
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
            stored = store_batch(engine, signer.agent_id, signer.nonce, batch, body, remote,
                                 limits.rate_per_minute)
        except Replayed:
            return problem(401, "replayed request", "this signature's nonce was already used; sign every "
                                                    "request afresh")
        except RateLimited as exc:
            return problem(429, "rate limit", f"at most {limits.rate_per_minute} uploads per minute per agent",
                           headers={"Retry-After": str(exc.retry_after)})
        return IngestResponse(received=stored.received, stored=stored.stored, duplicates=stored.duplicates)

    agent_heartbeat.add_routes(app, engine, verifier, limits.max_body)

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
