"""HTTP helpers shared by the routes: problem answers, and the guard every request body passes first (size cap,
chunked or not; duplicate JSON keys)."""

from __future__ import annotations

import json

from fastapi.responses import JSONResponse

from server_stub.api.models import Problem


def problem(status: int, error: str, detail: str | None = None, field: str | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(Problem(error=error, detail=detail, field=field).model_dump(exclude_none=True),
                        status_code=status, headers=headers)


ERRORS = {status: {"model": Problem} for status in (400, 401, 403, 409, 413, 429)}


def too_large(max_body: int) -> JSONResponse:
    return problem(413, "body too large", f"at most {max_body} bytes per request")


def rate_limited(detail: str, retry_after: int) -> JSONResponse:
    return problem(429, "rate limit", detail, headers={"Retry-After": str(retry_after)})


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, object]]) -> None:
    """object_pairs_hook: the objects are not kept (only their keys are checked), and the common case is one
    count in C."""
    if len(dict(pairs)) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)


def duplicate_key(body: bytes) -> str | None:
    """The first key that occurs twice in one JSON object of `body` (None for bodies that are not JSON: the
    route answers those). The server validates the last occurrence and SQLite's JSON reads the first, so a
    body with duplicates is refused, never stored."""
    try:
        json.loads(body, object_pairs_hook=_no_duplicates)
    except DuplicateKey as exc:
        return exc.key
    except (ValueError, RecursionError):
        return None
    return None


class BodyGuard:
    """Plain ASGI, in front of every route: reads the request body (at most `max_body` bytes, whether declared
    by Content-Length or sent chunked; 413 as soon as it is over, the rest is never read), refuses a JSON body
    with a duplicate key (400 naming it), then hands the body on to the route."""

    def __init__(self, app, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                await too_large(self.max_body)(scope, receive, send)
                return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await too_large(self.max_body)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        key = duplicate_key(body) if body else None
        if key is not None:
            await problem(400, "invalid document", f"duplicate key {key!r}: each key at most once per object",
                          key)(scope, receive, send)
            return
        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def replayed() -> JSONResponse:
    return problem(401, "replayed request", "this signature's nonce was already used; sign every request afresh")
