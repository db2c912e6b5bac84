"""Login and logout routes of a web area (the same for the portal and the console)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from server_stub.web import sessions
from server_stub.web.pages import WebArea
from server_stub.web.users import LoginRefused, authenticate


def add_login_routes(app: FastAPI, area: WebArea, home: str = "/") -> None:
    def show_login(request: Request) -> Response:
        with area.engine.begin() as conn:
            session = sessions.load_session(conn, request.cookies.get(area.cookie), area.area, area.timeout(conn))
            if session and session.user_id:
                return area.redirect(request, home)
            if session is None:
                session = sessions.open_session(conn, area.area)
                return area.render(request, "login.html", {}, session=session, cookie=session.token)
            return area.render(request, "login.html", {}, session=session)

    def do_login(request: Request, fields: dict[str, str] | None) -> Response:
        with area.engine.begin() as conn:
            session = sessions.load_session(conn, request.cookies.get(area.cookie), area.area, area.timeout(conn))
            if fields is None or not sessions.csrf_ok(session, fields.get("csrf")):
                return area.error(request, 403, "The login form expired; reload the page and try again.")
            remote = request.client.host if request.client else None
            try:
                user = authenticate(conn, area.kind, fields.get("email", ""), fields.get("password", ""), remote)
            except LoginRefused as exc:
                conn.commit()  # the failure counts even though the login is refused
                response = area.render(request, "login.html", {"problem": str(exc),
                                                               "email": fields.get("email", "")[:320]},
                                       status=429 if exc.retry_after else 401, session=session)
                if exc.retry_after:
                    response.headers["Retry-After"] = str(exc.retry_after)
                return response
            fresh = sessions.login(conn, session, area.area, user.id)
            return area.redirect(request, home, cookie=fresh.token)

    def do_logout(request: Request, fields: dict[str, str] | None) -> Response:
        def logout(conn, page) -> Response:
            sessions.end_session(conn, page.session)
            response = area.redirect(request, "/login")
            response.delete_cookie(area.cookie, path=area.prefix or "/")
            return response
        return area.guarded(request, logout, form=fields)

    @app.get(area.prefix + "/login", include_in_schema=False)
    def login_page(request: Request) -> Response:
        return show_login(request)

    @app.post(area.prefix + "/login", include_in_schema=False)
    async def login_post(request: Request) -> Response:
        return await run_in_threadpool(do_login, request, await area.form(request))

    @app.post(area.prefix + "/logout", include_in_schema=False)
    async def logout_post(request: Request) -> Response:
        return await run_in_threadpool(do_logout, request, await area.form(request))
