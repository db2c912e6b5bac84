"""POST /v1/heartbeat: verify, validate, record (server_stub.fleet.state) and answer with the configuration."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from server_stub.api.http import problem, rate_limited, replayed
from server_stub.api.models import HeartbeatRequest, first_problem, unstorable
from server_stub.fleet.state import record
from server_stub.trust import rates
from server_stub.trust.nonces import Replayed
from server_stub.trust.secrets import SecretBox, SecretKeyError
from server_stub.trust.signatures import Rejected, RequestVerifier


def inline_schema(model: type[BaseModel]) -> dict:
    """The model's JSON schema with its $defs substituted in place (no references to resolve)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    return resolve(schema)


def add_routes(app: FastAPI, engine: Engine, verifier: RequestVerifier, box: SecretBox | None,
               per_minute: int) -> None:
    @app.post("/v1/heartbeat", summary="Signed heartbeat: record the agent's state, answer with its configuration",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": inline_schema(HeartbeatRequest)}}}})
    async def heartbeat(request: Request) -> JSONResponse:
        body = await request.body()  # capped and checked for duplicate keys by BodyGuard
        remote = request.client.host if request.client else None
        return await run_in_threadpool(_heartbeat, request.method, str(request.url), dict(request.headers), body,
                                       remote)

    def _heartbeat(method: str, url: str, headers: dict[str, str], body: bytes, remote: str | None) -> JSONResponse:
        try:
            signer = verifier.verify(method, url, headers, body)
            beat = HeartbeatRequest.model_validate_json(body)
        except Rejected as exc:
            return problem(exc.status, exc.error, exc.detail)
        except Replayed:
            return replayed()
        except ValidationError as exc:
            found = first_problem(exc)
            return problem(400, found.error, found.detail, found.field)
        found = unstorable(body)
        if found:
            return problem(400, found.error, found.detail, found.field)
        wait = rates.check(engine, [(f"heartbeat:{signer.agent_id}", per_minute)])
        if wait is not None:
            return rate_limited(f"at most {per_minute} heartbeats per minute per agent", wait)
        try:
            with engine.begin() as conn:
                return JSONResponse(record(conn, signer.agent_id, beat, remote, box))
        except SecretKeyError as exc:
            return problem(500, "server configuration", str(exc))
