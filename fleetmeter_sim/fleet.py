"""Which simulated device is which: model, serial, name, MAC, and where it answers.

The same (count, seed) always gives the same fleet, so the live simulator and the history writer talk
about the same printers (same serials). Addresses stay inside 127.0.0.0/8 (loopback on Linux).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Sequence
from dataclasses import dataclass

from fleetmeter_sim.models import Model, load_models

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
SYS_NAME, SYS_LOCATION = "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.6.0"


class FleetError(ValueError):
    """A fleet that cannot be laid out (addresses leaving loopback, ports past 65535)."""


@dataclass(frozen=True)
class SimDevice:
    number: int  # 0-based position in the fleet
    model: Model
    serial: str
    name: str  # sysName
    location: str  # sysLocation
    mac: bytes
    host: str
    port: int
    community: str

    def to_json(self) -> dict:
        return {"address": self.host, "port": self.port, "serial": self.serial, "model": self.model.name,
                "name": self.name, "community": self.community}


def choose_model(number: int, seed: int, models: tuple[Model, ...]) -> Model:
    """The first devices take each model once (a small fleet shows them all); then by share."""
    if number < len(models):
        return models[number]
    return random.Random(f"{seed}:model:{number}").choices(models, [m.share for m in models])[0]


def addresses(count: int, base_address: str, port: int, port_base: int | None) -> list[tuple[str, int]]:
    """One port each on `base_address` (port_base given), else one address each from `base_address` on
    `port`, skipping .0 and .255 (a reader knows them as network and broadcast addresses)."""
    try:
        base = ipaddress.ip_address(base_address)
    except ValueError:
        raise FleetError(f"not an IPv4 address: {base_address!r}") from None
    if base not in LOOPBACK:
        raise FleetError(f"{base} is not a loopback address (127.0.0.0/8): the simulator stays on this host")
    if port_base is not None:
        if not 0 < port_base or port_base + count - 1 > 65535:
            raise FleetError(f"ports {port_base}..{port_base + count - 1} do not fit in 1..65535")
        return [(str(base), port_base + i) for i in range(count)]
    if not 0 < port <= 65535:
        raise FleetError(f"port {port} is not in 1..65535")
    result: list[tuple[str, int]] = []
    current = int(base)
    while len(result) < count:
        address = ipaddress.ip_address(current)
        if address not in LOOPBACK:
            raise FleetError(f"{count} addresses from {base} leave 127.0.0.0/8")
        if current & 0xFF not in (0, 255):
            result.append((str(address), port))
        current += 1
    return result


def plan_fleet(count: int, seed: int = 1, base_address: str = "127.0.10.1", port: int = 161,
               port_base: int | None = None, community: str = "public",
               assigned: Sequence[tuple[str, str]] | None = None) -> list[SimDevice]:
    """`assigned`: (model name, serial) of each device when another model of the fleet decides them."""
    if count < 1:
        raise FleetError("a fleet needs at least one device")
    models = load_models()
    by_name = {m.name: m for m in models}
    fleet = []
    for number, (host, device_port) in enumerate(addresses(count, base_address, port, port_base)):
        if assigned:
            model, serial = by_name[assigned[number][0]], assigned[number][1]
        else:
            model = choose_model(number, seed, models)
            serial = f"{model.serial_prefix}{number + 1:06d}"
        fleet.append(SimDevice(
            number, model, serial,
            f"{model.value(SYS_NAME).decode('latin-1')}-{number + 1:05d}",  # type: ignore[union-attr]
            model.value(SYS_LOCATION).decode("latin-1"),  # type: ignore[union-attr]
            bytes((0x02, 0xF1, 0xEE)) + number.to_bytes(3, "big"), host, device_port, community))
    return fleet
