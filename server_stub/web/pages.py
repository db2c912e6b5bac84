"""One web area (the customer portal, later the dealer console): Jinja2 pages with autoescaping, the session
cookie, the login guard that keeps each user kind in its own area, CSRF checks on form posts, and the
security headers every page carries.

Routes stay thin: a sync handler asks `area.guarded(request, handler)`, which opens a transaction, loads the
session (redirecting to the login page without one), refuses a user of the other kind, and calls
`handler(conn, page)`; form posts read their body with `await area.form(request)` first (size-capped,
url-encoded only) and pass it through `guarded(..., form=fields)`, which checks the CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape
from sqlalchemy.engine import Connection, Engine

from server_stub.web import sessions
from server_stub.web.users import User, get_user

MAX_FORM = 64 * 1024  # bytes of a form post
MAX_FIELDS = 50

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"), (b"x-content-type-options", b"nosniff")]
UNGUARDED_PATHS = ("/docs", "/redoc")  # FastAPI's API explorer pages load their own inline script


class SecurityHeaders:
    """ASGI middleware: CSP without inline script, no framing, no referrer, nosniff on every answer (the API
    explorer pages excepted); cache-control no-store on HTML pages (they carry customer data)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNGUARDED_PATHS):
            await self.app(scope, receive, send)
            return

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() not in dict(SECURITY_HEADERS)]
                headers += SECURITY_HEADERS
                if any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, with_headers)


class NotFound(Exception):
    """The thing does not exist for this user (also what another client's ids answer: no existence leak)."""


class BadForm(Exception):
    """A form value was refused (one line, shown on the page)."""


@dataclass
class Page:
    """What a guarded handler gets: the request, the session and its user."""

    request: Request
    session: sessions.Session
    user: User


class WebArea:
    def __init__(self, engine: Engine, *, area: str, kind: str, prefix: str, title: str,
                 timeout: Callable[[Connection], timedelta], template_packages: tuple[str, ...] = ()) -> None:
        self.engine, self.area, self.kind, self.prefix, self.title = engine, area, kind, prefix, title
        self.timeout = timeout
        self.cookie = f"fm_{area}"
        loaders = [PackageLoader(p, "templates") for p in template_packages] + [
            PackageLoader("server_stub.web", "templates")]
        self.env = Environment(loader=ChoiceLoader(loaders), autoescape=select_autoescape(default=True),
                               trim_blocks=True, lstrip_blocks=True)
        self.env.globals.update(prefix=prefix, area_title=title)

    # -- responses ---------------------------------------------------------------------------------------
    def render(self, request: Request, template: str, context: dict[str, Any], *, status: int = 200,
               session: sessions.Session | None = None, user: User | None = None,
               cookie: str | None = None) -> HTMLResponse:
        html = self.env.get_template(template).render(
            **context, csrf=session.csrf_token if session else "", user=user, path=request.url.path)
        response = HTMLResponse(html, status_code=status)
        if cookie:
            self.set_cookie(response, request, cookie)
        return response

    def set_cookie(self, response: Response, request: Request, token: str) -> None:
        response.set_cookie(self.cookie, token, path=self.prefix or "/", httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")

    def redirect(self, request: Request, to: str, cookie: str | None = None) -> RedirectResponse:
        response = RedirectResponse(self.prefix + to, status_code=303)
        if cookie:
            self.set_cookie(response, request, cookie)
        return response

    def error(self, request: Request, status: int, message: str, page: Page | None = None) -> HTMLResponse:
        return self.render(request, "error.html", {"status": status, "message": message}, status=status,
                           session=page.session if page else None, user=page.user if page else None)

    # -- input -------------------------------------------------------------------------------------------
    async def form(self, request: Request) -> dict[str, str] | None:
        """The url-encoded form fields (last value of each name wins... refused: a repeated name is a bad
        form), or None when the body is not a readable form."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            return None
        body = await request.body()  # the API's BodyGuard has capped it while it was received
        if len(body) > MAX_FORM:
            return None
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body),
                              max_num_fields=MAX_FIELDS)
        except (UnicodeDecodeError, ValueError):
            return None
        fields = dict(pairs)
        return fields if len(fields) == len(pairs) else None

    # -- the guard ---------------------------------------------------------------------------------------
    def guarded(self, request: Request, handler: Callable[[Connection, Page], Response],
                form: dict[str, str] | None | bool = False, roles: tuple[str, ...] | None = None) -> Response:
        """Run `handler` for a logged-in user of this area's kind (and one of `roles`, for dealer pages that
        change things: e.g. ("admin", "staff") keeps read_only users out); `form`: the posted fields (None:
        unreadable) for a state-changing request, whose CSRF token must match the session's."""
        with self.engine.begin() as conn:
            session = sessions.load_session(conn, request.cookies.get(self.cookie), self.area, self.timeout(conn))
            user = get_user(conn, session.user_id) if session and session.user_id else None
            if session is None or user is None:
                return self.redirect(request, "/login")
            page = Page(request, session, user)
            if user.kind != self.kind or user.disabled or (roles is not None and user.role not in roles):
                return self.error(request, 403, "This page is not for your account.")
            if form is not False and (form is None or not sessions.csrf_ok(session, form.get("csrf"))):
                return self.error(request, 403, "The form expired or did not come from this site; reload the "
                                                "page and try again.", page)
            try:
                return handler(conn, page)
            except NotFound:
                conn.rollback()
                return self.error(request, 404, "Not found.", page)
            except BadForm as exc:
                conn.rollback()
                return self.error(request, 400, str(exc), page)
