"""The dealer's customers: clients, their sites and coordinators, and which client and site an agent serves.

A client is named by its name (unique); `agents add NAME --client C` makes the client when it does not exist
yet, so enrolling stays one command. One main coordinator per client (a partial unique index holds it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from server_stub.db.engine import upsert_insert, utcnow
from server_stub.db.tables import agents, assets, clients, coordinators, sites


class FleetError(Exception):
    """A request about clients, sites or coordinators that cannot be done; the message says why."""


@dataclass(frozen=True)
class Client:
    id: int
    name: str
    prefix: str | None
    tax_id: str | None
    language: str | None
    currency: str | None
    address: str | None
    created_at: datetime

    def to_json(self) -> dict:
        return asdict(self) | {"created_at": self.created_at.isoformat().replace("+00:00", "Z")}


def ensure_client(conn: Connection, name: str) -> int:
    """The client's id, creating a client of that name when there is none."""
    conn.execute(upsert_insert(conn, clients).values(name=name, created_at=utcnow())
                 .on_conflict_do_nothing(index_elements=[clients.c.name]))
    return conn.execute(select(clients.c.id).where(clients.c.name == name)).scalar_one()


def add_client(conn: Connection, name: str, *, prefix: str | None = None, tax_id: str | None = None,
               language: str | None = None, currency: str | None = None, address: str | None = None) -> Client:
    if conn.execute(select(clients.c.id).where(clients.c.name == name)).first():
        raise FleetError(f"client {name!r} exists already")
    if prefix and conn.execute(select(clients.c.name).where(clients.c.prefix == prefix)).first():
        raise FleetError(f"prefix {prefix!r} is used by another client")
    conn.execute(insert(clients).values(name=name, prefix=prefix, tax_id=tax_id, language=language,
                                        currency=currency.upper() if currency else None, address=address,
                                        created_at=utcnow()))
    return get_client(conn, name)


def get_client(conn: Connection, name: str) -> Client:
    row = conn.execute(select(clients).where(clients.c.name == name)).first()
    if row is None:
        raise FleetError(f"no client named {name!r}; see: fleetmeter-server clients list")
    return Client(**row._asdict())


def list_clients(conn: Connection) -> list[Client]:
    return [Client(**row._asdict()) for row in conn.execute(select(clients).order_by(clients.c.name))]


def client_summary(conn: Connection, name: str) -> dict:
    """The client with its sites, coordinators, agents and asset counts by state (`clients show`)."""
    client = get_client(conn, name)
    counts = dict(conn.execute(select(assets.c.state, func.count()).where(assets.c.client_id == client.id)
                               .group_by(assets.c.state)).all())
    return client.to_json() | {
        "sites": [s.to_json() for s in list_sites(conn, name)],
        "coordinators": [c.to_json() for c in list_coordinators(conn, name)],
        "agents": list(conn.execute(select(agents.c.name).where(agents.c.client_id == client.id)
                                    .order_by(agents.c.name)).scalars()),
        "assets": counts,
    }


@dataclass(frozen=True)
class Coordinator:
    id: int
    client: str
    name: str
    email: str | None
    phone: str | None
    is_main: bool

    def to_json(self) -> dict:
        return asdict(self)


def add_coordinator(conn: Connection, client: str, name: str, *, email: str | None = None,
                    phone: str | None = None, main: bool = False) -> Coordinator:
    """Add a coordinator; `main` makes them the client's main coordinator (the previous main one stays a
    coordinator)."""
    client_id = get_client(conn, client).id
    if conn.execute(select(coordinators.c.id).where(coordinators.c.client_id == client_id,
                                                    coordinators.c.name == name)).first():
        raise FleetError(f"client {client!r} has a coordinator named {name!r} already")
    if main:
        conn.execute(update(coordinators).where(coordinators.c.client_id == client_id, coordinators.c.is_main)
                     .values(is_main=False))
    conn.execute(insert(coordinators).values(client_id=client_id, name=name, email=email, phone=phone, is_main=main,
                                             created_at=utcnow()))
    return next(c for c in list_coordinators(conn, client) if c.name == name)


def list_coordinators(conn: Connection, client: str | None = None) -> list[Coordinator]:
    query = (select(coordinators, clients.c.name.label("client_name"))
             .join(clients, clients.c.id == coordinators.c.client_id)
             .order_by(clients.c.name, coordinators.c.is_main.desc(), coordinators.c.name))
    if client is not None:
        query = query.where(clients.c.id == get_client(conn, client).id)
    return [Coordinator(r.id, r.client_name, r.name, r.email, r.phone, r.is_main) for r in conn.execute(query)]


@dataclass(frozen=True)
class Site:
    id: int
    client: str
    name: str
    address: str | None
    coordinator: str | None
    active: bool

    def to_json(self) -> dict:
        return asdict(self)


def add_site(conn: Connection, client: str, name: str, *, address: str | None = None,
             coordinator: str | None = None, active: bool = True) -> Site:
    client_id = get_client(conn, client).id
    coordinator_id = None
    if coordinator is not None:
        coordinator_id = conn.execute(select(coordinators.c.id).where(
            coordinators.c.client_id == client_id, coordinators.c.name == coordinator)).scalar()
        if coordinator_id is None:
            raise FleetError(f"client {client!r} has no coordinator named {coordinator!r}; add one first: "
                             f"fleetmeter-server coordinators add {client!r} {coordinator!r}")
    try:
        with conn.begin_nested():
            conn.execute(insert(sites).values(client_id=client_id, name=name, address=address,
                                              coordinator_id=coordinator_id, active=active, created_at=utcnow()))
    except IntegrityError:
        raise FleetError(f"client {client!r} has a site named {name!r} already") from None
    return next(s for s in list_sites(conn, client) if s.name == name)


def site_id(conn: Connection, client: str, name: str) -> int:
    found = conn.execute(select(sites.c.id).where(sites.c.client_id == get_client(conn, client).id,
                                                  sites.c.name == name)).scalar()
    if found is None:
        raise FleetError(f"client {client!r} has no site named {name!r}; see: fleetmeter-server sites list")
    return found


def list_sites(conn: Connection, client: str | None = None) -> list[Site]:
    query = (select(sites, clients.c.name.label("client_name"), coordinators.c.name.label("coordinator_name"))
             .join(clients, clients.c.id == sites.c.client_id)
             .outerjoin(coordinators, coordinators.c.id == sites.c.coordinator_id)
             .order_by(clients.c.name, sites.c.name))
    if client is not None:
        query = query.where(clients.c.id == get_client(conn, client).id)
    return [Site(r.id, r.client_name, r.name, r.address, r.coordinator_name, r.active) for r in conn.execute(query)]


def link_agent(conn: Connection, agent: str, client: str, site: str | None = None) -> None:
    """Tie the agent to its client (made when new) and optionally one of the client's sites; assets it finds
    start on that site."""
    client_id = ensure_client(conn, client)
    values: dict = {"client_id": client_id}
    if site is not None:
        values["site_id"] = site_id(conn, client, site)
    conn.execute(update(agents).where(agents.c.name == agent, agents.c.client == client).values(**values))
