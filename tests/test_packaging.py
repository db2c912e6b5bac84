"""Installable, not only runnable from a checkout: the wheel and sdist build, the wheel installs into a fresh
virtual environment (not editable) and runs the demo's whole chain from there, so package data missing from
the wheel (a profile, a device file, a migration, Alembic's script template, a TOML) fails here. The server's
systemd units pass `systemd-analyze verify`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import venv
import zipfile
from pathlib import Path

import pytest

from demo_holds import assert_demo_holds

ROOT = Path(__file__).resolve().parent.parent
UNITS = ("fleetmeter-server.service", "fleetmeter-server-worker.service")


def run(argv: list[str], timeout: int, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert done.returncode == 0, f"{argv[:4]}: {done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # the sdist first, then the wheel built from it (so the sdist must hold everything the wheel needs)
    run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        timeout=300, cwd=out)
    return out


def test_wheel_and_sdist_carry_the_package_data(dist):
    wheel = next(dist.glob("fleetmeter-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("server_stub/db/migrations/script.py.mako", "server_stub/db/migrations/env.py",
                   "server_stub/db/migrations/versions/0011_metrics.py", "fleetmeter_sim/models.toml",
                   "fleetmeter_sim/devices/demo-color-mfp.snmprec", "agent/install/fleetmeter-agent.service"):
        assert needed in names, needed
    assert any(n.startswith("agent/printer/profiles/") and n.endswith(".toml") for n in names)
    sdist = next(dist.glob("fleetmeter-*.tar.gz"))
    members = tarfile.open(sdist).getnames()
    assert any(m.endswith("packaging/systemd/fleetmeter-server.service") for m in members)


def test_installed_wheel_runs_the_demo_once(dist, tmp_path, short_home):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    wheel = next(dist.glob("fleetmeter-*.whl"))
    pip_env = {k: v for k, v in os.environ.items() if k != "PIP_REQUIRE_VIRTUALENV"}
    run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"{wheel}[server]"],
        timeout=600, env=pip_env)
    listed = run([str(python), "-m", "pip", "show", "--files", "fleetmeter"], timeout=60).stdout
    assert "Editable project location" not in listed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FLEETMETER_DB", "FLEETMETER_HOME")}
    from trust_peers import free_tcp_port
    from peers import free_udp_port

    # run from a directory without the checkout, so nothing is imported from it
    done = run([str(env_dir / "bin" / "fleetmeter-server"), "demo", "--once", "--home", str(short_home),
                "--port", str(free_tcp_port()), "--snmp-port", str(free_udp_port("127.0.20.1")), "--days", "62"],
               timeout=600, env=env, cwd=tmp_path)
    assert re.search(r"Fleetmeter Demo \w+ \d+\s+SIM000000", done.stdout), done.stdout[-4000:]
    assert_demo_holds(str(env_dir / "bin" / "fleetmeter-server"), short_home, done.stdout)
    imported = run([str(python), "-c", "import server_stub, sys; print(server_stub.__file__)"], timeout=60,
                   env=env, cwd=tmp_path).stdout
    assert str(env_dir) in imported


@pytest.fixture()
def short_home():
    """The demo's home: short, as the agents' control sockets must fit AF_UNIX's 108 bytes."""
    home = Path(tempfile.mkdtemp(prefix="fm-demo-"))
    yield home / "demo"
    shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("unit", UNITS)
def test_server_units_verify(unit, tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    text = (ROOT / "packaging" / "systemd" / unit).read_text()
    assert "EnvironmentFile=/etc/fleetmeter/server.env" in text and "NoNewPrivileges=yes" in text
    # the units name /opt/fleetmeter/bin/fleetmeter-server; verify checks the program exists, so point at ours
    program = Path(sys.executable).parent / "fleetmeter-server"
    (tmp_path / unit).write_text(text.replace("/opt/fleetmeter/bin/fleetmeter-server", str(program)))
    done = subprocess.run(["systemd-analyze", "verify", str(tmp_path / unit)], capture_output=True, text=True,
                          timeout=60)
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if unit in line]
    assert done.returncode == 0 and complaints == [], done.stdout + done.stderr
    broken = tmp_path / "broken" / unit
    broken.parent.mkdir()
    broken.write_text((tmp_path / unit).read_text().replace("ProtectSystem=strict", "ProtectSystem=sideways"))
    done = subprocess.run(["systemd-analyze", "verify", str(broken)], capture_output=True, text=True, timeout=60)
    assert unit in done.stdout + done.stderr  # the check can fail
