"""The agent as a systemd service: a dedicated system user, the hardened unit, enabled and started.

Each step is a `Step` (what it does, in words and as a command or file) so `--dry-run` prints exactly what
an install would do and nothing else happens.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

UNIT_NAME = "fleetmeter-agent.service"
UNIT_DIR = Path("/etc/systemd/system")
USER = "fleetmeter"
STATE_DIR = Path("/var/lib/fleetmeter")


class InstallError(Exception):
    pass


@dataclass(frozen=True)
class Step:
    what: str
    command: tuple[str, ...] = ()
    path: Path | None = None  # a file to write (content) or remove (content None)
    content: str | None = None

    def show(self) -> str:
        if self.command:
            return f"{self.what}: {shlex.join(self.command)}"
        if self.content is not None:
            return f"{self.what}: write {self.path}\n" + "".join(f"    {line}\n" for line in
                                                                 self.content.splitlines())
        return f"{self.what}: remove {self.path}"

    def do(self) -> None:
        if self.command:
            done = subprocess.run(self.command, capture_output=True, text=True)
            if done.returncode:
                raise InstallError(f"{shlex.join(self.command)} failed: {(done.stderr or done.stdout).strip()}")
        elif self.content is not None:
            self.path.write_text(self.content)
            os.chmod(self.path, 0o644)
        elif self.path is not None:
            self.path.unlink(missing_ok=True)


def agent_command() -> str:
    """How systemd starts this installation of the agent (its Python and module: works in a venv)."""
    return f"{shlex.quote(sys.executable)} -m agent.cli"


def render_unit(command: str | None = None) -> str:
    template = resources.files("agent.install").joinpath(UNIT_NAME).read_text()
    return template.replace("@EXEC@", command or agent_command())


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def install_steps(unit_dir: Path = UNIT_DIR, start: bool = True) -> list[Step]:
    steps = []
    if not _user_exists(USER):
        steps.append(Step(f"create system user {USER}", ("useradd", "--system", "--home-dir", str(STATE_DIR),
                                                          "--no-create-home", "--shell", "/usr/sbin/nologin",
                                                          "--user-group", USER)))
    steps.append(Step("install the unit", path=unit_dir / UNIT_NAME, content=render_unit()))
    steps.append(Step("reload systemd", ("systemctl", "daemon-reload")))
    steps.append(Step("enable at boot" + (" and start" if start else ""),
                      ("systemctl", "enable", *(("--now",) if start else ()), UNIT_NAME)))
    return steps


def uninstall_steps(unit_dir: Path = UNIT_DIR, purge: bool = False) -> list[Step]:
    steps = [Step("stop and disable", ("systemctl", "disable", "--now", UNIT_NAME)),
             Step("remove the unit", path=unit_dir / UNIT_NAME),
             Step("reload systemd", ("systemctl", "daemon-reload"))]
    if purge:
        steps.append(Step(f"remove state (keys, outbox, logs) in {STATE_DIR}", ("rm", "-rf", str(STATE_DIR))))
        if _user_exists(USER):
            steps.append(Step(f"remove system user {USER}", ("userdel", USER)))
    return steps


def preflight() -> None:
    if os.geteuid() != 0:
        raise InstallError("installing a system service needs root; run it with sudo (or --dry-run to see the "
                           "steps)")
    if shutil.which("systemctl") is None or not Path("/run/systemd/system").exists():
        raise InstallError("systemd is not running on this machine; run `fleetmeter-agent run` under your "
                           "init system instead (see README)")
