"""What each dealer role may do in the console (the one place this is decided).

    admin      everything: agents (new agent key, revoke), devices to complete, reorder policy, notifications
    staff      devices to complete (activate, delete), notification settings; sees everything
    read_only  sees everything, changes nothing
"""

from __future__ import annotations

from server_stub.web.users import User

RIGHTS = {
    "admin": frozenset({"complete_devices", "manage_agents", "set_policy", "set_notifications"}),
    "staff": frozenset({"complete_devices", "set_notifications"}),
    "read_only": frozenset(),
}


def may(user: User, action: str) -> bool:
    return user.kind == "dealer" and action in RIGHTS.get(user.role or "", frozenset())
