"""The simulated printers on the wire: one UDP socket per device (its own loopback address, or its own
port), all on one event loop. A request with another community, another SNMP version, or bytes that are
not an SNMP request gets no answer, as from a real printer."""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from agent.snmp import ber
from fleetmeter_sim.fleet import SimDevice
from fleetmeter_sim.live import DeviceState
from fleetmeter_sim.mibview import ModelView


@dataclass
class Counts:
    answered: int = 0
    refused: int = 0  # wrong community or version
    malformed: int = 0


class DeviceEndpoint(asyncio.DatagramProtocol):
    def __init__(self, device: SimDevice, view: ModelView, state: DeviceState, clock: Callable[[], datetime],
                 counts: Counts) -> None:
        self.device, self.view, self.state, self.clock, self.counts = device, view, state, clock, counts
        self.community = device.community.encode()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        try:
            version, community, pdu_type, request_id, first, second, names = ber.decode_request(data)
        except ber.BerError:
            self.counts.malformed += 1
            return
        if version not in (0, 1) or community != self.community or (version == 0 and pdu_type == ber.GET_BULK):
            self.counts.refused += 1
            return
        snap = self.state.at(self.clock())
        status, index, binds = self.view.respond(self.device, snap, pdu_type, names, first, second, version == 0)
        self.counts.answered += 1
        assert self.transport is not None
        self.transport.sendto(ber.encode_response(version, community, request_id, status, index, b"".join(binds)),
                              addr)


def raise_file_limit(sockets: int) -> None:
    """One descriptor per device: lift the soft limit towards the hard one when the fleet needs it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = sockets + 64
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))


async def serve(fleet: Sequence[SimDevice], states: Sequence[DeviceState], clock: Callable[[], datetime],
                counts: Counts | None = None) -> list[asyncio.DatagramTransport]:
    """Binds every device; returns the transports (close them to stop). Raises OSError (address in use,
    permission for ports under 1024, too many open files) with the device it was binding."""
    raise_file_limit(len(fleet))
    loop = asyncio.get_running_loop()
    counts = counts or Counts()
    views: dict[int, ModelView] = {}
    transports: list[asyncio.DatagramTransport] = []
    try:
        for device, state in zip(fleet, states, strict=True):
            view = views.get(id(device.model)) or views.setdefault(id(device.model), ModelView(device.model))
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda d=device, v=view, s=state: DeviceEndpoint(d, v, s, clock, counts),
                    local_addr=(device.host, device.port))
            except OSError as error:
                raise OSError(error.errno, f"cannot listen on {device.host}:{device.port}: {error.strerror}") from None
            transports.append(transport)
    except BaseException:
        for transport in transports:
            transport.close()
        raise
    return transports
