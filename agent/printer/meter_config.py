"""The user's own meters: ``meters.toml`` in the agent's configuration directory (or ``--config FILE``).

```toml
# every device
[meters]
a3_prints = "KYOCERA-MIB::kcprtMarkerA3Count.1"        # a MIB symbol (compiled from mibs/ or <config>/mibs)
total = "1.3.6.1.4.1.1347.43.10.1.1.12.1.1"            # a numeric OID
mono = { sum = ["1.3.6.1.4.1.1.1.0", "1.3.6.1.4.1.1.2.0"] }
length = { source = "1.3.6.1.4.1.10642.200.17.3.0 ~ (\\d+) INCHES", unit = "inches" }

# only devices read with one vendor profile (agent/printer/profiles/<name>.toml)
[profiles.kyocera.meters]
scan = "1.3.6.1.4.1.1347.46.10.1.1.5.3"
```

A meter is written like a profile's ``[counters]`` entry (see `agent.printer.profile.parse_meters`), with
MIB symbols allowed wherever an OID is. Symbols are resolved once, when the file is loaded; the poll
itself reads numeric OIDs only. Configured meters have origin ``config`` (precedence: counters.py).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agent.errors import MibError, UserConfigError
from agent.printer.profile import MeterSpec, ProfileError, parse_meters, resolve_meter_symbols

if TYPE_CHECKING:  # pysmi/pysnmp MIB machinery loads only when a file is actually read
    from agent.mibs import MibResolver

CONFIG_NAME = "meters.toml"


class MeterConfigError(UserConfigError):
    pass


@dataclass(frozen=True)
class ConfiguredMeters:
    everywhere: tuple[MeterSpec, ...] = ()
    by_profile: dict[str, tuple[MeterSpec, ...]] = field(default_factory=dict)

    def for_profile(self, profile: str) -> tuple[MeterSpec, ...]:
        return self.everywhere + self.by_profile.get(profile, ())


NO_METERS = ConfiguredMeters()


def load_meter_config(path: Path, resolver: MibResolver) -> ConfiguredMeters:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MeterConfigError(f"meter configuration {path} not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise MeterConfigError(f"meter configuration {path}: {exc}") from None
    unknown = set(data) - {"meters", "profiles"}
    if unknown:
        raise MeterConfigError(f"meter configuration {path}: unknown section(s) {', '.join(sorted(unknown))}; "
                               "expected [meters] and [profiles.<name>.meters]")
    try:
        everywhere = _meters(data.get("meters", {}), resolver, f"{path} [meters]")
        by_profile = {name: _meters(section.get("meters", {}), resolver, f"{path} [profiles.{name}.meters]")
                      for name, section in data.get("profiles", {}).items()}
    except (ProfileError, MibError) as exc:
        raise MeterConfigError(str(exc)) from None
    except AttributeError:
        raise MeterConfigError(f"meter configuration {path}: [profiles.<name>] must be tables") from None
    return ConfiguredMeters(everywhere, by_profile)


def _meters(table: dict, resolver: MibResolver, where: str) -> tuple[MeterSpec, ...]:
    """Resolve MIB symbols to numeric OIDs, then parse like a profile's [counters]."""
    return parse_meters(resolve_meter_symbols(table, resolver.oid_of, where), where)
