"""What the user configured about reading printers, the same for `poll` and the service's jobs.

- the user's own meters: ``meters.toml`` in the agent's configuration directory (or ``poll --config
  FILE``), MIB symbols resolved once when the file is loaded (agent/printer/meter_config.py);
- the low-supply threshold: ``thresholds.supply_low_percent`` of the agent's configuration
  (agent/scheduler/config.py), which decides a supply's ``low`` state and what the alerts job uploads.

`load_read_settings` is the one loading path: `poll` calls it once, the service on every inspection
(the meters file is loaded again only when it changed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.printer.meter_config import CONFIG_NAME, NO_METERS, ConfiguredMeters, load_meter_config
from agent.printer.supplies import DEFAULT_LOW_PERCENT


@dataclass(frozen=True)
class ReadSettings:
    meters: ConfiguredMeters = NO_METERS
    supply_low_percent: float = DEFAULT_LOW_PERCENT


def load_read_settings(config_dir: Path, cache_dir: Path, supply_low_percent: float = DEFAULT_LOW_PERCENT,
                       meters_file: Path | None = None) -> ReadSettings:
    """Settings from the configuration directory; `meters_file` overrides ``<config>/meters.toml``
    (then it must exist). Raises `MeterConfigError` (one line) for a file that cannot be used."""
    path = meters_file or config_dir / CONFIG_NAME
    if meters_file is None and not path.exists():
        return ReadSettings(NO_METERS, supply_low_percent)
    from agent.mibs import resolver_for  # pysmi only when there is a file to read

    return ReadSettings(load_meter_config(path, resolver_for(config_dir, cache_dir)), supply_low_percent)
