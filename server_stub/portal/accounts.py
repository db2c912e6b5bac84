"""Portal accounts: customer users the dealer creates (SDF KundOnline "Användare"), each of one client, with the
sites and projects it may see and its per-account options."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Connection

from server_stub.db.tables import clients, sites
from server_stub.fleet.clients import FleetError, get_client, site_id
from server_stub.portal.tables import (portal_account_projects, portal_account_sites, portal_accounts, projects)
from server_stub.web.tables import web_users
from server_stub.web.users import UserError, add_user

OPTIONS = ("order_directly", "hide_performed_actions", "show_project_purchase_prices", "show_order_purchase_prices")


@dataclass(frozen=True)
class Account:
    user_id: int
    email: str
    client_id: int
    client: str
    site_ids: frozenset[int]
    project_ids: frozenset[int]
    order_directly: bool
    hide_performed_actions: bool
    show_project_purchase_prices: bool
    show_order_purchase_prices: bool
    disabled: bool = False

    def to_json(self, site_names: dict[int, str], project_names: dict[int, str]) -> dict:
        return {"email": self.email, "client": self.client, "disabled": self.disabled,
                "sites": sorted(site_names[s] for s in self.site_ids),
                "projects": sorted(project_names[p] for p in self.project_ids)} | {o: getattr(self, o) for o in OPTIONS}


def add_project(conn: Connection, client: str, name: str) -> int:
    from server_stub.db.engine import utcnow
    client_id = get_client(conn, client).id
    if conn.execute(select(projects.c.id).where(projects.c.client_id == client_id, projects.c.name == name)).first():
        raise UserError(f"client {client!r} has a project named {name!r} already")
    return conn.execute(projects.insert().values(client_id=client_id, name=name, active=True,
                                                 created_at=utcnow())).inserted_primary_key[0]


def add_account(conn: Connection, email: str, password: str, client: str, site_names: list[str],
                project_names: list[str] = (), **options: bool) -> int:
    """A portal user of `client` who sees the named sites (at least one) and projects of that client only."""
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise UserError(f"unknown option(s): {', '.join(sorted(unknown))}")
    if not site_names:
        raise UserError("a portal user needs at least one site (--site)")
    try:
        client_id = get_client(conn, client).id
        site_ids = {site_id(conn, client, name) for name in site_names}
    except FleetError as exc:
        raise UserError(str(exc)) from None
    project_ids = set()
    for name in project_names:
        found = conn.execute(select(projects.c.id).where(projects.c.client_id == client_id,
                                                         projects.c.name == name)).scalar()
        if found is None:
            raise UserError(f"client {client!r} has no project named {name!r}")
        project_ids.add(found)
    user_id = add_user(conn, "portal", email, password)
    conn.execute(portal_accounts.insert().values(user_id=user_id, client_id=client_id,
                                                 **{o: bool(options.get(o, False)) for o in OPTIONS}))
    for sid in sorted(site_ids):
        conn.execute(portal_account_sites.insert().values(user_id=user_id, site_id=sid))
    for pid in sorted(project_ids):
        conn.execute(portal_account_projects.insert().values(user_id=user_id, project_id=pid))
    return user_id


def _accounts(conn: Connection, where=None) -> list[Account]:
    query = (select(portal_accounts, web_users.c.email, web_users.c.disabled, clients.c.name.label("client"))
             .join(web_users, web_users.c.id == portal_accounts.c.user_id)
             .join(clients, clients.c.id == portal_accounts.c.client_id).order_by(clients.c.name, web_users.c.email))
    if where is not None:
        query = query.where(where)
    rows = conn.execute(query).all()
    ids = [r.user_id for r in rows]
    site_map: dict[int, set[int]] = {i: set() for i in ids}
    project_map: dict[int, set[int]] = {i: set() for i in ids}
    if ids:
        # a link to a site or project of another client is never honoured (belt and braces to add_account)
        for uid, sid in conn.execute(select(portal_account_sites.c.user_id, portal_account_sites.c.site_id)
                                     .join(sites, sites.c.id == portal_account_sites.c.site_id)
                                     .join(portal_accounts, portal_accounts.c.user_id == portal_account_sites.c.user_id)
                                     .where(portal_account_sites.c.user_id.in_(ids),
                                            sites.c.client_id == portal_accounts.c.client_id)):
            site_map[uid].add(sid)
        for uid, pid in conn.execute(select(portal_account_projects.c.user_id, portal_account_projects.c.project_id)
                                     .join(projects, projects.c.id == portal_account_projects.c.project_id)
                                     .join(portal_accounts,
                                           portal_accounts.c.user_id == portal_account_projects.c.user_id)
                                     .where(portal_account_projects.c.user_id.in_(ids),
                                            projects.c.client_id == portal_accounts.c.client_id)):
            project_map[uid].add(pid)
    return [Account(r.user_id, r.email, r.client_id, r.client, frozenset(site_map[r.user_id]),
                    frozenset(project_map[r.user_id]), *(getattr(r, o) for o in OPTIONS), disabled=r.disabled)
            for r in rows]


def account_of(conn: Connection, user_id: int) -> Account | None:
    found = _accounts(conn, portal_accounts.c.user_id == user_id)
    return found[0] if found else None


def list_accounts(conn: Connection) -> list[Account]:
    return _accounts(conn)


def names(conn: Connection) -> tuple[dict[int, str], dict[int, str]]:
    return (dict(conn.execute(select(sites.c.id, sites.c.name)).all()),
            dict(conn.execute(select(projects.c.id, projects.c.name)).all()))
