"""The project's printer simulator as a test peer: a small fleet served over UDP on loopback from a
thread, on a clock the test moves (no pytest dependency here)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from fleetmeter_sim.fleet import SimDevice, plan_fleet
from fleetmeter_sim.live import PlaceholderState
from fleetmeter_sim.server import Counts, serve
from fleetmeter_sim.usage_state import UsageState, usage_fleet
from peers import free_udp_port

START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)  # a Monday


class ManualClock:
    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Endpoint:
    host: str
    port: int


class SimFleet:
    """`count` simulated printers on consecutive ports of 127.0.0.1; `states[i]` is device i's state."""

    def __init__(self, count: int = 3, seed: int = 7, community: str = "public", start: datetime = START,
                 usage_from: date | None = None) -> None:
        """`usage_from`: serve the usage model's fleet whose history starts that day (else the placeholder)."""
        port_base = free_udp_port()
        while port_base + count > 65535:
            port_base = free_udp_port()
        layout = {"base_address": "127.0.0.1", "port_base": port_base, "community": community}
        self.clock = ManualClock(start)
        self.states: list
        if usage_from is None:
            self.devices: list[SimDevice] = plan_fleet(count, seed, **layout)
            self.states = [PlaceholderState(d, seed, self.clock.now) for d in self.devices]
        else:
            self.devices, days = usage_fleet(count, seed, usage_from, **layout)
            self.states = [UsageState(d, days, seed, self.clock.now) for d in self.devices]
        self.counts = Counts()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._error: BaseException | None = None

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.transports = self.loop.run_until_complete(serve(self.devices, self.states, self.clock, self.counts))
            except BaseException as error:  # reported to the caller below
                self._error = error
                ready.set()
                return
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(30)
        if self._error:
            raise self._error

    def endpoint(self, i: int) -> Endpoint:
        return Endpoint(self.devices[i].host, self.devices[i].port)

    def stop(self) -> None:
        def close() -> None:
            for transport in self.transports:
                transport.close()
            self.loop.stop()
        self.loop.call_soon_threadsafe(close)
        self.thread.join(10)
