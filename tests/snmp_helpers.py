"""Helpers for tests that poll the simulator in-process."""

from __future__ import annotations

import asyncio

from fleetmeter_contract.reading import DeviceReading
from agent.snmp.client import SnmpClient
from agent.snmp.credentials import Credentials
from agent.snmp.reader import read_device


def poll(sim, community: str | None = None, credentials: Credentials | None = None,
         timeout: float = 1.0, retries: int = 1) -> DeviceReading:
    async def run() -> DeviceReading:
        client = SnmpClient()
        try:
            session = client.session(sim.host, sim.port, credentials or Credentials(community=community),
                                     timeout=timeout, retries=retries)
            return await read_device(session)
        finally:
            client.close()

    return asyncio.run(run())
