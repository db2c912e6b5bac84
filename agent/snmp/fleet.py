"""Reading many devices at once: bounded concurrency on one event loop and one SNMP engine.

One agent serves thousands of printers: inspections overlap their network waits (most of a poll is
waiting for UDP answers) while at most `concurrency` devices are in flight. An unreachable device costs
its timeout in parallel with the others, never in series.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from agent.reading import DeviceReading
from agent.snmp.client import SnmpClient, SnmpError
from agent.snmp.credentials import Credentials
from agent.snmp.reader import read_device

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
                    concurrency: int = DEFAULT_CONCURRENCY) -> AsyncIterator[Outcome]:
    """Yield one outcome per target as each finishes (not in input order)."""
    semaphore = asyncio.Semaphore(max(1, concurrency))

    async def one(target: Target) -> Outcome:
        async with semaphore:
            session = client.session(target.host, target.port, target.credentials, timeout=timeout,
                                     retries=retries)
            try:
                return Outcome(target, reading=await read_device(session))
            except SnmpError as exc:
                return Outcome(target, error=str(exc))

    tasks = [asyncio.ensure_future(one(t)) for t in targets]
    try:
        for finished in asyncio.as_completed(tasks):
            yield await finished
    finally:
        for task in tasks:
            task.cancel()
