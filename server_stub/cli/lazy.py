"""Modules the command line loads on first use, so a command imports only what it runs: `devices list` must not
pay for FastAPI, cryptography, Alembic or the supply engine at start-up (bench/devices_list.py measures it).

    registry = lazy("server_stub.trust.enrolment")   # imported when registry.add_agent is first looked up
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy(name: str) -> ModuleType:
    """The module `name`, executed on its first attribute access (importlib.util.LazyLoader)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
