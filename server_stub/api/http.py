"""HTTP helpers shared by the routes: problem answers and the body cap (declared or streamed)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from server_stub.api.models import Problem


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


def replayed() -> JSONResponse:
    return problem(401, "replayed request", "this signature's nonce was already used; sign every request afresh")
