"""The ERP's view of the consumable request queue: list Outstanding requests, mark one Actioned with the ERP's
own job id. Bearer tokens from `fleetmeter-server erp token add NAME` (server_stub.jobs.erp)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from server_stub.api.http import ERRORS, problem
from server_stub.jobs import erp as tokens
from server_stub.jobs.requests import action_by_erp, list_requests


class ErpRequest(BaseModel):
    id: int
    client: str
    asset_id: int
    serial: str | None
    supply: str = Field(description="device index . supply index, as readings number supplies")
    source: str
    comment: str
    created_at: str


class ErpRequests(BaseModel):
    requests: list[ErpRequest]


class Actioned(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    erp_id: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\x20-\x7e]+$")]


class ActionedResponse(BaseModel):
    id: int
    status: str
    erp_id: str


# module level: the routes' annotations (strings under `from __future__ import annotations`) name it
bearer = HTTPBearer(auto_error=False, description="an ERP token from `fleetmeter-server erp token add NAME`")


def add_routes(app: FastAPI, engine: Engine) -> None:

    def _who(credentials: HTTPAuthorizationCredentials | None) -> str | None:
        with engine.begin() as conn:
            return tokens.authenticate(conn, credentials.credentials if credentials else None)

    def _unauthorised() -> JSONResponse:
        return problem(401, "unauthorised", "a valid ERP bearer token is required",
                       headers={"WWW-Authenticate": "Bearer"})

    @app.get("/v1/erp/requests", response_model=ErpRequests, responses=ERRORS, tags=["erp"],
             summary="Outstanding consumable requests (oldest first)")
    async def outstanding(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]):
        if await run_in_threadpool(_who, credentials) is None:
            return _unauthorised()

        def _list() -> list[dict]:
            with engine.connect() as conn:
                return list_requests(conn, "outstanding")
        rows = await run_in_threadpool(_list)
        return ErpRequests(requests=[ErpRequest(**{k: r[k] for k in ErpRequest.model_fields}) for r in rows])

    @app.post("/v1/erp/requests/{request_id}/actioned", response_model=ActionedResponse,
              responses=ERRORS | {404: ERRORS[409]}, tags=["erp"],
              summary="Mark an Outstanding request Actioned with the ERP's id (the ERP made its own job)")
    async def actioned(request_id: int, body: Actioned,
                       credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]):
        if await run_in_threadpool(_who, credentials) is None:
            return _unauthorised()

        def _action() -> JSONResponse | ActionedResponse:
            with engine.begin() as conn:
                done = action_by_erp(conn, request_id, body.erp_id)
                if done:
                    return ActionedResponse(id=request_id, status="actioned", erp_id=body.erp_id)
                known = [r for r in list_requests(conn) if r["id"] == request_id]
            if not known:
                return problem(404, "not found", f"no request {request_id}")
            return problem(409, "not outstanding", f"request {request_id} is {known[0]['status']}")
        return await run_in_threadpool(_action)
