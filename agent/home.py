"""Where the agent keeps its state: FLEETMETER_HOME when set, else the platform's directories."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP = "fleetmeter"


@dataclass(frozen=True)
class AgentPaths:
    config: Path  # configuration files (agent.toml)
    data: Path  # outbox database, keys, certificates
    logs: Path
    cache: Path  # compiled MIBs and other rebuildable things

    def ensure(self) -> AgentPaths:
        """The directories, made (or made again) 0700: they hold readings, keys and logs."""
        for path in (self.config, self.data, self.logs, self.cache):
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                path.chmod(0o700)
            except PermissionError:  # another user's directories (read-only commands still work)
                pass
        return self


def agent_paths() -> AgentPaths:
    home = os.environ.get("FLEETMETER_HOME")
    if home:
        base = Path(home).expanduser() / "agent"
        return AgentPaths(base / "config", base / "data", base / "logs", base / "cache")
    return AgentPaths(
        Path(platformdirs.site_config_dir(APP) if _is_service_user() else platformdirs.user_config_dir(APP)),
        Path(platformdirs.site_data_dir(APP) if _is_service_user() else platformdirs.user_data_dir(APP)),
        Path(platformdirs.user_log_dir(APP)),
        Path(platformdirs.user_cache_dir(APP)),
    )


def _is_service_user() -> bool:
    """Root (or a Windows service) keeps state in the machine-wide locations."""
    return hasattr(os, "geteuid") and os.geteuid() == 0
