"""Reading many devices at once: bounded concurrency on one event loop and one SNMP engine.

One agent serves thousands of printers: inspections overlap their network waits (most of a poll is
waiting for UDP answers) while at most `concurrency` devices are in flight. An unreachable device costs
its timeout in parallel with the others, never in series.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from agent.printer.settings import ReadSettings
from agent.snmp.client import SnmpClient, SnmpError
from agent.snmp.credentials import Credentials
from agent.snmp.reader import read_device
from fleetmeter_contract.reading import DeviceReading

DEFAULT_CONCURRENCY = 64


@dataclass(frozen=True)
class Target:
    host: str
    port: int = 161
    credentials: Credentials = Credentials()


@dataclass
class Outcome:
    target: Target
    reading: DeviceReading | None = None
    error: str | None = None  # one line, when the device could not be read


async def read_many(client: SnmpClient, targets: Iterable[Target], *, timeout: float = 2.0, retries: int = 1,
                    concurrency: int = DEFAULT_CONCURRENCY, settings: ReadSettings = ReadSettings()
                    ) -> AsyncIterator[Outcome]:
    """Yield one outcome per target as each finishes (not in input order); `settings`: the user's meters
    and low-supply threshold (`agent.printer.settings`, loaded the same way as for `poll`)."""
    async def one(target: Target) -> Outcome:
        session = client.session(target.host, target.port, target.credentials, timeout=timeout, retries=retries)
        try:
            return Outcome(target, reading=await read_device(session, settings))
        except SnmpError as exc:
            return Outcome(target, error=str(exc))

    # `concurrency` workers share one iterator of targets: memory stays flat however many devices there are
    # (no task per device waiting on a semaphore)
    pending = iter(targets)
    results: asyncio.Queue[Outcome | None] = asyncio.Queue()

    async def worker() -> None:
        try:
            for target in pending:
                results.put_nowait(await one(target))
        finally:
            results.put_nowait(None)  # this worker is done (or failed: its error is raised below)

    workers = [asyncio.ensure_future(worker()) for _ in range(max(1, concurrency))]
    try:
        running = len(workers)
        while running:
            outcome = await results.get()
            if outcome is None:
                running -= 1
            else:
                yield outcome
        for task in workers:
            task.result()
    finally:
        for task in workers:
            task.cancel()
