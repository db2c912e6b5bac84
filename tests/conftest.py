"""Shared test peers: snmpsim serving the printer recordings over UDP on loopback."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from peers import DATABASES, Simulator

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("FLEETMETER_SHARED", ROOT.parent / "shared"))
FIXTURES = SHARED / "fixtures" / "printers"
DEMO_DEVICES = ROOT / "fleetmeter_sim" / "devices"
RECORDINGS = ROOT / "tests" / "recordings"


SHARED_MISSING = None if (FIXTURES / "manifest.json").exists() else (
    f"{SHARED} not found (the shared printer recordings; set FLEETMETER_SHARED or check out ../shared): "
    "tests that need them are skipped")
_NEEDS_SHARED = ("FIXTURES", "load_manifest", "manifest_entry", "SHARED")


def load_manifest() -> list[dict]:
    """The shared recordings' manifest entries ([] when ../shared is missing: their tests are skipped)."""
    if SHARED_MISSING:
        return []
    return json.loads((FIXTURES / "manifest.json").read_text())["entries"]


@pytest.fixture(params=DATABASES)
def engine(request, tmp_path):
    """A server database at the migrations' head, on SQLite and on PostgreSQL (dropped afterwards)."""
    from server_stub.db import migrate
    from server_stub.db.engine import make_engine
    from trust_peers import Database

    db = Database(request.param, tmp_path)
    engine = make_engine(db.url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()
    db.drop()


def pytest_sessionstart(session) -> None:
    """One line at the start (also with -q) when the shared recordings are missing."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if SHARED_MISSING and reporter is not None:
        reporter.write_line(f"fleetmeter: {SHARED_MISSING}")


def _source(obj) -> str:
    import inspect

    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        return ""


def _needs_shared(item) -> bool:
    sources = [_source(getattr(item, "function", None))]
    for name in getattr(item, "fixturenames", ()):
        for definition in item._fixtureinfo.name2fixturedefs.get(name, ()):
            sources.append(_source(definition.func))
    return any(token in text for text in sources for token in _NEEDS_SHARED) or \
        "got empty parameter set" in str(item.get_closest_marker("skip") or "")


def pytest_collection_modifyitems(config, items) -> None:
    if not SHARED_MISSING:
        return
    skip = pytest.mark.skip(reason=SHARED_MISSING)
    for item in items:
        if _needs_shared(item):
            item.add_marker(skip)


def recorded(path: Path, oid: str) -> str:
    """The value an snmprec file holds at `oid` (for tests on Fleetmeter's own recordings)."""
    for line in path.read_text().splitlines():
        name, _tag, value = line.split("|", 2)
        if name == oid:
            return value
    raise KeyError(f"{oid} not in {path}")


@pytest.fixture(scope="session")
def manifest() -> list[dict]:
    return load_manifest()


@pytest.fixture(scope="session")
def snmpsim(tmp_path_factory) -> Simulator:
    """The ../shared printer recordings, served over UDP on loopback."""
    sim = Simulator(FIXTURES, tmp_path_factory.mktemp("snmpsim"))
    yield sim
    sim.stop()


@pytest.fixture(scope="session")
def agent_env(tmp_path_factory) -> dict[str, str]:
    """Environment for CLI subprocesses: an isolated FLEETMETER_HOME."""
    home = tmp_path_factory.mktemp("agent-home")
    return dict(os.environ, FLEETMETER_HOME=str(home), PYTHONPATH=str(ROOT))

V3_USER = {"user": "fleetv3", "auth_proto": "SHA256", "auth_key": "authpass-3xq", "priv_proto": "AES",
           "priv_key": "privpass-7kz"}


def _add_glpi_walk(convert, data: Path) -> None:
    """The glpi-agent walk from the shared recordings, when they are there (its own test needs them)."""
    if not SHARED_MISSING:
        convert(FIXTURES / "glpi-agent" / "sample2.walk", data / "glpi-sample2.snmprec")


@pytest.fixture(scope="session")
def local_sim(tmp_path_factory) -> Simulator:
    """Fleetmeter's own recordings (tests/recordings, fleetmeter_sim/devices) and the glpi-agent walk converted to
    snmpsim format, served on loopback; also answers the SNMPv3 user V3_USER (context = file stem)."""
    from walkfile import walk_to_snmprec

    data = tmp_path_factory.mktemp("local-recordings")
    for source in (RECORDINGS, DEMO_DEVICES):
        for path in source.glob("*.snmprec"):
            shutil.copy(path, data / path.name)
    _add_glpi_walk(walk_to_snmprec, data)
    sim = Simulator(data, tmp_path_factory.mktemp("local-snmpsim"), (
        "--v3-engine-id=auto", f"--v3-user={V3_USER['user']}", f"--v3-auth-key={V3_USER['auth_key']}",
        f"--v3-auth-proto={V3_USER['auth_proto']}", f"--v3-priv-key={V3_USER['priv_key']}",
        f"--v3-priv-proto={V3_USER['priv_proto']}"))
    yield sim
    sim.stop()
