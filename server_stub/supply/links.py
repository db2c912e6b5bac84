"""The supply domain's calls into the jobs domain (#jobs branch, concurrent): an order line becomes a
consumable request; a contract's settings (monitor status, threshold override) for an asset.

`server_stub.jobs` does not provide these yet on this branch: until it does, both are no-ops returning None.
When the jobs branch is merged, these two functions call `server_stub.jobs.add_request` and
`server_stub.jobs.contract_settings`; nothing else in the supply domain changes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

try:  # the jobs domain, when merged
    from server_stub import jobs as _jobs
except ImportError:  # pragma: no cover
    _jobs = None


def add_request(conn: Connection, asset_id: int, supply_key: str, source: str, **details: Any) -> Any:
    function = getattr(_jobs, "add_request", None)
    return None if function is None else function(conn, asset_id, supply_key, source, **details)


def contract_settings(conn: Connection, asset_id: int) -> Any:
    function = getattr(_jobs, "contract_settings", None)
    return None if function is None else function(conn, asset_id)
