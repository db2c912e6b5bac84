"""`fleetmeter-server` builds only the parsers a command line needs (server_stub.cli.main.COMMAND_MODULES), so a
listing command does not import every domain at start-up; the table must agree with the parser built from every
command-line module."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from trust_peers import DATABASES, Database

from server_stub.cli.main import BUILT_IN, CLI_MODULES, COMMAND_MODULES, build_parser, cli_modules

ROOT = Path(__file__).resolve().parent.parent


def _shape(parser: argparse.ArgumentParser) -> dict:
    """Options, positionals and defaults of a parser and, recursively, of its subcommands."""
    shape: dict = {"options": sorted((a.dest, tuple(a.option_strings), repr(a.choices) if not isinstance(
        a, argparse._SubParsersAction) else None) for a in parser._actions),
        "defaults": sorted(k for k in parser._defaults)}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            shape["commands"] = {name: _shape(sub) for name, sub in action.choices.items()}
    return shape


@pytest.fixture(scope="module")
def full() -> dict:
    return _shape(build_parser(modules=CLI_MODULES))["commands"]


def test_every_command_is_in_the_table(full):
    assert sorted(full) == sorted(set(COMMAND_MODULES) | set(BUILT_IN))


@pytest.mark.parametrize("command", sorted(set(COMMAND_MODULES) | set(BUILT_IN)))
def test_a_command_line_gets_the_whole_command(full, command):
    """The parser built for `COMMAND ...` has that command exactly as the parser of every module has it."""
    assert _shape(build_parser([command, "x"]))["commands"][command] == full[command]


def test_help_and_unknown_commands_build_everything():
    assert cli_modules([]) == cli_modules(["--help"]) == cli_modules(["nonsense"]) == CLI_MODULES
    assert cli_modules(["devices", "list"]) == ("fleet",)
    assert cli_modules(["--version"]) == ()
    assert cli_modules(["assets", "link", "S", "1"]) == ("fleet", "jobs")  # jobs adds to fleet's `assets`


@pytest.mark.parametrize("kind", DATABASES)
def test_devices_list_does_not_import_other_domains(tmp_path, kind):
    """`devices list --json` runs (an empty fleet) without loading billing, jobs, portal, supply, the HTTP app,
    password hashing, Alembic, SQLAlchemy or psycopg 3 (the listing goes through the plain driver, psycopg2 or
    sqlite3: server_stub.db.direct): start-up is most of a listing command's time (bench/devices_list.py)."""
    script = textwrap.dedent("""
        import json, sys
        from server_stub.cli.main import main
        assert main(["devices", "list", "--json"]) == 0
        loaded = sorted(m for m, module in sys.modules.items() if type(module).__name__ != "_LazyModule"  # cli/lazy.py
                        and (m.startswith(("server_stub.billing", "server_stub.jobs",
                        "server_stub.portal", "server_stub.supply", "server_stub.web", "fastapi", "argon2",
                        "server_stub.trust.ca", "alembic", "sqlalchemy", "psycopg.")) or m == "psycopg"))
        print(json.dumps(loaded), file=sys.stderr)
    """)
    database = Database(kind, tmp_path)
    try:
        env = dict(os.environ, FLEETMETER_HOME=str(tmp_path), FLEETMETER_DB=database.url)
        subprocess.run([sys.executable, "-m", "server_stub.cli", "init"], env=env, check=True, capture_output=True,
                       cwd=ROOT)
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=ROOT)
    finally:
        database.drop()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == '{"devices":[]}'
    assert done.stderr.strip().splitlines()[-1] == "[]"
