"""The dealer's fleet commands end to end (`python -m server_stub.cli`), on SQLite and PostgreSQL: clients,
sites, coordinators, import of history with bad lines, devices to complete, custom fields, merge and split with
their audit lines, the listing and its CSV export (formulas neutralised, control characters escaped)."""

from __future__ import annotations

import csv
import getpass
import io
import json
import subprocess
import sys
from datetime import timedelta

import pytest
import sqlalchemy

from fleet_peers import T0, reading
from trust_peers import DATABASES, Database, environment

SERVER = [sys.executable, "-m", "server_stub.cli"]


@pytest.fixture(params=DATABASES)
def cli(request, tmp_path):
    db = Database(request.param, tmp_path)
    env = environment(tmp_path / "home", FLEETMETER_DB=db.url)

    def run(*args: str, expect: int = 0) -> subprocess.CompletedProcess:
        done = subprocess.run(SERVER + list(args), env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == expect, f"{args} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr
        return done

    run("init")
    run.database = db
    yield run
    db.drop()


def listing(run, *args: str) -> dict:
    return json.loads(run(*args, "--json").stdout)


def test_clients_sites_coordinators(cli):
    cli("clients", "add", "Acme", "--prefix", "ACM", "--tax-id", "DE123", "--language", "de", "--currency", "eur",
        "--address", "Hauptstr. 1, Berlin")
    assert "exists already" in cli("clients", "add", "Acme", expect=1).stderr
    cli("coordinators", "add", "Acme", "Ada", "--email", "ada@acme.example", "--main")
    cli("coordinators", "add", "Acme", "Bob", "--main")  # the new main coordinator replaces Ada as main
    cli("sites", "add", "Acme", "HQ", "--address", "Hauptstr. 1", "--coordinator", "Ada")
    refused = cli("sites", "add", "Acme", "Annex", "--coordinator", "Nobody", expect=1)
    assert refused.stderr.count("\n") == 1 and "no coordinator named 'Nobody'" in refused.stderr
    [client] = listing(cli, "clients", "list")["clients"]
    assert (client["prefix"], client["currency"], client["tax_id"]) == ("ACM", "EUR", "DE123")
    mains = [c["name"] for c in listing(cli, "coordinators", "list")["coordinators"] if c["is_main"]]
    assert mains == ["Bob"]
    [site] = listing(cli, "sites", "list", "--client", "Acme")["sites"]
    assert (site["name"], site["coordinator"], site["active"]) == ("HQ", "Ada", True)
    cli("agents", "add", "hq-1", "--client", "Acme", "--site", "HQ")
    assert listing(cli, "clients", "show", "Acme")["agents"] == ["hq-1"]
    assert "no site named" in cli("agents", "add", "hq-2", "--client", "Acme", "--site", "Nowhere", expect=1).stderr


def test_import_stores_good_lines_and_names_bad_ones(cli, tmp_path):
    cli("agents", "add", "importer", "--client", "Acme")
    good = [json.dumps(reading("W492KB03439", at=T0 + timedelta(days=d), total=1000 + d)) for d in range(3)]
    bad_counter = reading("W492KB03439", at=T0 + timedelta(days=9))
    bad_counter["counters"]["total"] = -5
    lines = [good[0], "{not json", good[1], "", json.dumps(bad_counter), json.dumps([1, 2]), good[2]]
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = json.loads(cli("readings", "import", str(path), "--agent", "importer", "--json", expect=1).stdout)
    assert (result["received"], result["stored"], result["duplicates"]) == (6, 3, 0)
    assert [r["line"] for r in result["rejected"]] == [2, 5, 6]
    assert "counters.total" in result["rejected"][1]["error"]
    again = json.loads(cli("readings", "import", str(path), "--agent", "importer", "--json", expect=1).stdout)
    assert (again["stored"], again["duplicates"]) == (0, 3)
    [device] = listing(cli, "devices", "list")["devices"]  # derived like live ingest
    assert (device["readings"], device["counters"]["total"], device["state"]) == (3, 1002, "to_complete")
    human = cli("readings", "import", str(path), "--agent", "importer", expect=1)
    assert "line 2:" in human.stderr and "line 5:" in human.stderr
    assert "no agent named" in cli("readings", "import", str(path), "--agent", "ghost", expect=1).stderr


def test_devices_to_complete_fields_merge_split_and_export(cli, tmp_path):
    cli("agents", "add", "a1", "--client", "Acme")
    cli("sites", "add", "Acme", "HQ")
    hostile = reading("TC101642170085", mac="00:26:73:54:e2:6a")
    hostile["identity"]["model"] = "=HYPERLINK(\"http://x\")\x1b[31m"
    no_serial = reading(None, mac="00:26:73:54:e2:6b", address="10.0.0.99", at=T0 + timedelta(hours=1))
    path = tmp_path / "two.jsonl"
    path.write_text(json.dumps(hostile) + "\n" + json.dumps(no_serial) + "\n")
    cli("readings", "import", str(path), "--agent", "a1")
    todo = {d["address"]: d for d in listing(cli, "devices", "to-complete")["devices"]}
    assert sorted((d["serial"] or "-", address, d["agent"]) for address, d in todo.items()) == [
        ("-", "10.0.0.99", "a1"), ("TC101642170085", "10.0.0.36", "a1")]
    first, second = todo["10.0.0.36"]["asset_id"], todo["10.0.0.99"]["asset_id"]
    cli("devices", "activate", str(first))
    cli("assets", "set", str(first), "floor", "3")
    cli("assets", "set", str(first), "--site", "HQ")
    human = cli("devices", "list").stdout
    assert "\x1b" not in human and "\\x1b[31m" in human  # a printer's escape sequence is shown, not obeyed
    rows = {r["asset_id"]: r for r in csv.DictReader(io.StringIO(cli("devices", "export", "--csv").stdout))}
    assert rows[str(first)]["model"].startswith("'=") and rows[str(first)]["site"] == "HQ"

    cli("assets", "merge", str(first), str(second))  # the MAC-only record was the same printer
    shown = listing(cli, "assets", "show", str(first))
    assert shown["fields"] == {"floor": "3"} and len(shown["identities"]) == 2
    assert shown["latest"]["readings"] == 2
    assert any(a["action"] == "merge" and a["detail"] == f"asset {second} merged into {first}" for a in shown["audit"])
    assert [d["asset_id"] for d in listing(cli, "devices", "list")["devices"]] == [first]

    mac_identity = next(i for i in shown["identities"] if i.startswith("mac:"))
    split = cli("assets", "split", str(first), mac_identity).stdout
    new = int(split.rsplit(" ", 1)[1])
    assert listing(cli, "assets", "show", str(new))["latest"]["readings"] == 1
    audit = listing(cli, "assets", "show", str(first))["audit"]
    assert audit[-1]["action"] == "split" and f"into new asset {new}" in audit[-1]["detail"]
    cli("devices", "delete", str(new))
    assert [d["asset_id"] for d in listing(cli, "devices", "list")["devices"]] == [first]
    assert "different clients" not in cli("assets", "merge", str(first), "999", expect=1).stderr


def test_devices_list_json_filters_and_equals_the_rows_listing(cli, tmp_path):
    """`devices list --json` (each device's JSON made by the database, read through the plain driver) lists what
    the Python rows of the same query list (`assets list --json`), and --client / --site narrow it."""
    cli("agents", "add", "a0", "--client", "Acme")
    cli("sites", "add", "Acme", "HQ")
    cli("agents", "add", "hq", "--client", "Acme", "--site", "HQ")
    cli("agents", "add", "g0", "--client", "Globex")
    for agent, serials in (("hq", ("HQ-1", "HQ-2")), ("a0", ("A-1",)), ("g0", ("G-1",))):
        path = tmp_path / f"{agent}.jsonl"
        path.write_text("".join(json.dumps(reading(serial, address=f"10.0.0.{n}")) + "\n"
                                for n, serial in enumerate(serials, 1)))
        cli("readings", "import", str(path), "--agent", agent)

    every = listing(cli, "devices", "list")["devices"]
    rows = [{k: v for k, v in asset.items() if k != "fields"} for asset in listing(cli, "assets", "list")["assets"]]
    assert every == rows
    assert sorted(d["serial"] for d in every) == ["A-1", "G-1", "HQ-1", "HQ-2"]

    def serials(*args: str) -> list[str]:
        return [d["serial"] for d in listing(cli, "devices", "list", *args)["devices"]]

    assert serials("--client", "Acme") == [d["serial"] for d in every if d["client"] == "Acme"]
    hq = [d for d in every if d["site"] == "HQ"]
    assert [d["serial"] for d in hq] == ["HQ-1", "HQ-2"] and hq[0]["asset_id"] < hq[1]["asset_id"]
    assert serials("--client", "Acme", "--site", "HQ") == serials("--site", "HQ") == ["HQ-1", "HQ-2"]
    assert serials("--client", "Globex", "--site", "HQ") == serials("--client", "Nobody") == []


def test_devices_list_json_refuses_as_the_other_commands_do(cli, tmp_path):
    """The listing that starts without SQLAlchemy says what every other command says, in one line: a database
    behind the code's schema, one that cannot be reached, a SQLite file that does not exist (and is not made);
    a password in the URL is never shown."""
    database = cli.database
    password = "s3cret-Pw"
    url = (database.url if database.kind == "sqlite" else
           database.url.replace(":///", f"://{getpass.getuser()}:{password}@/"))  # local socket: not asked for
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    engine.dispose()
    behind = cli("devices", "list", "--json", "--db", url, expect=1)
    assert behind.stdout == "" and behind.stderr.count("\n") == 1 and "run: fleetmeter-server init" in behind.stderr
    assert behind.stderr == cli("clients", "list", "--json", "--db", url, expect=1).stderr
    assert password not in behind.stderr

    unreachable = f"postgresql://fleet:{password}@127.0.0.1:1/none"
    refused = cli("devices", "list", "--json", "--db", unreachable, expect=2)
    assert refused.stderr.startswith("fleetmeter-server: cannot use the database: ") and refused.stderr.count("\n") == 1
    other = cli("clients", "list", "--json", "--db", unreachable, expect=2).stderr  # psycopg 3 (SQLAlchemy's driver)
    for said in (refused.stderr, other):  # each driver's line carries libpq's own reason
        assert 'connection to server at "127.0.0.1", port 1 failed: Connection refused' in said
    assert password not in refused.stderr and refused.stdout == ""

    missing = tmp_path / "missing.db"
    absent = cli("devices", "list", "--json", "--db", f"sqlite:///{missing}", expect=1)
    assert absent.stderr == f"fleetmeter-server: database sqlite:///{missing} is not initialised or not up to date; " \
                            "run: fleetmeter-server init\n"
    assert not missing.exists()
