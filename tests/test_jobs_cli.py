"""The back-office commands end to end through `fleetmeter-server` (subprocesses on a SQLite home)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from trust_peers import environment

ASSETS = ("client,site,serial,custom_serial,manufacturer,model,location\n"
          "Acme,HQ,W492KB03439,,Ricoh,MP C3002,2nd floor\n"
          "Acme,,E175M930012,ERP-77,Kyocera,M2040,\n")
STOCK = "part_code,description,colour,class,yield_pages\nK-1,Black,black,toner,9000\nBAD,Bad,black,toner,lots\n"


@pytest.fixture
def cli(tmp_path):
    env = environment(tmp_path / "home")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "server_stub.cli", *args], capture_output=True, text=True,
                              env=env, timeout=120)
    assert run("init").returncode == 0
    return run


def test_import_requests_jobs_and_matching_on_the_command_line(cli, tmp_path):
    (tmp_path / "stock.csv").write_text(STOCK)
    (tmp_path / "assets.csv").write_text(ASSETS)
    bad = cli("import", "stock", str(tmp_path / "stock.csv"))
    assert bad.returncode == 1 and "line 3: yield_pages" in bad.stderr and "nothing stored" in bad.stderr
    dry = cli("import", "stock", str(tmp_path / "stock.csv"), "--dry-run", "--skip-bad", "--json")
    assert json.loads(dry.stdout)["stored"] == 1
    assert cli("export", "stock", "--csv").stdout.splitlines()[1:] == []  # the dry run stored nothing
    assert cli("import", "stock", str(tmp_path / "stock.csv"), "--skip-bad").returncode == 0
    assert cli("import", "assets", str(tmp_path / "assets.csv")).returncode == 0

    unknown = cli("requests", "add", "--serial", "NOPE123456", "--supply", "1.1")
    assert unknown.returncode == 1 and unknown.stderr.count("\n") == 1 and "NOPE123456" in unknown.stderr
    by_suffix = cli("requests", "add", "--serial", "kb03439", "--supply", "1.1", "--json")
    by_custom = cli("requests", "add", "--serial", "erp-77", "--supply", "1.2", "--json")
    assert by_suffix.returncode == by_custom.returncode == 0
    assert cli("requests", "add", "--serial", "kb03439", "--supply", "one").returncode == 1
    assert json.loads(cli("jobs", "sync", "--json").stdout)["jobs_created"] == 2
    jobs = json.loads(cli("jobs", "list", "--json").stdout)["jobs"]
    assert sorted(j["serial"] for j in jobs) == ["E175M930012", "W492KB03439"]
    first = next(j["job"] for j in jobs if j["serial"] == "W492KB03439")
    assert cli("jobs", "set-status", str(first), "in-progress").returncode == 0
    assert cli("jobs", "set-status", str(first), "done").returncode == 2  # usage: not a status
    listed = json.loads(cli("jobs", "list", "--status", "in-progress", "--json").stdout)["jobs"]
    assert [j["job"] for j in listed] == [first]
    requests = json.loads(cli("requests", "list", "--status", "actioned", "--json").stdout)["requests"]
    assert {r["comment"] for r in requests} == {f"job {j['job']}" for j in jobs}

    assert json.loads(cli("matching", "conflicts", "--json").stdout) == {"conflicts": []}
    assert cli("assets", "link", "M930012", "999").returncode == 1  # no such asset
    exported = cli("export", "assets", "--csv").stdout.splitlines()
    assert exported[0] == "client,site,serial,custom_serial,manufacturer,model,location"
    assert "Acme,HQ,W492KB03439,,ricoh,MP C3002,2nd floor" in exported
    token = cli("erp", "token", "add", "jim2")
    assert token.returncode == 0 and "fmerp_" in token.stdout
    assert cli("erp", "token", "add", "jim2").returncode == 1  # one token per name
