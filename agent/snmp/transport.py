"""How one request PDU reaches a device and its answer comes back.

Two ways, one interface (`exchange`): community requests (SNMPv1/v2c) are encoded by `agent.snmp.ber`
and sent over one shared UDP socket per client, answers matched by request-id; SNMPv3 requests go
through pysnmp's USM engine (authentication, privacy, engine discovery). Both count the request PDUs
they send (retries included) and the bytes on the wire, and return plain Python values.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
from dataclasses import dataclass, field

from agent.snmp import ber
from agent.snmp.credentials import Credentials
from agent.snmp.values import from_pysnmp

END = ber.END_OF_MIB  # a walk's end-of-MIB marker, whichever transport answered

PDU_GET, PDU_GET_NEXT, PDU_GET_BULK = ber.GET, ber.GET_NEXT, ber.GET_BULK
TOO_BIG, NO_SUCH_NAME = 1, 2


class TransportTimeout(Exception):
    """No answer after every try."""


class TransportError(Exception):
    """An answer that says the request failed (text: what the engine reported)."""

    def __init__(self, text: str, kind: type | None = None) -> None:
        super().__init__(text)
        self.kind = kind  # the pysnmp error-indication class, for SNMPv3 failures


@dataclass
class Answer:
    error_status: int
    error_index: int
    var_binds: list[tuple[str, object]]  # (dotted OID, Raw value or END)


@dataclass
class Traffic:
    pdus: int = 0
    bytes: int = 0


class UdpDispatcher(asyncio.DatagramProtocol):
    """One UDP socket per address family for all community requests of a client."""

    def __init__(self) -> None:
        self._transports: dict[int, asyncio.DatagramTransport] = {}
        self._pending: dict[int, tuple[asyncio.Future, tuple[str, int], bytes]] = {}
        self._ids = itertools.count(random.randrange(1, 2**30))

    async def _transport(self, family: int) -> asyncio.DatagramTransport:
        if family not in self._transports:
            local = ("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0)
            transport, _protocol = await asyncio.get_running_loop().create_datagram_endpoint(
                lambda: self, local_addr=local, family=family)
            self._transports[family] = transport
        return self._transports[family]

    def next_request_id(self) -> int:
        while True:
            request_id = next(self._ids) & 0x7FFFFFFF
            if request_id and request_id not in self._pending:
                return request_id

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        try:
            decoded = ber.decode_response(data)
        except ber.BerError:
            return  # not an SNMP answer we can read: dropped, as a router would
        _version, community, request_id, *_rest = decoded
        pending = self._pending.get(request_id)
        if pending is None:
            return
        future, expected_addr, expected_community = pending
        if (addr[0], addr[1]) != expected_addr or community != expected_community or future.done():
            return  # a stray or spoofed answer: keep waiting for the real one
        future.set_result((len(data), decoded))

    async def request(self, address: tuple[str, int], family: int, message: bytes, request_id: int,
                      community: bytes, timeout: float, retries: int, traffic: Traffic):
        transport = await self._transport(family)
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (future, address, community)
        try:
            for _attempt in range(retries + 1):
                transport.sendto(message, address)
                traffic.pdus += 1
                traffic.bytes += len(message)
                try:
                    size, decoded = await asyncio.wait_for(asyncio.shield(future), timeout)
                except asyncio.TimeoutError:
                    continue
                traffic.bytes += size
                return decoded
            raise TransportTimeout()
        finally:
            self._pending.pop(request_id, None)
            if not future.done():
                future.cancel()

    def close(self) -> None:
        for transport in self._transports.values():
            transport.close()
        self._transports.clear()


@dataclass
class CommunityTransport:
    """SNMPv1/v2c to one device."""

    dispatcher: UdpDispatcher
    address: tuple[str, int]
    family: int
    credentials: Credentials
    timeout: float
    retries: int
    traffic: Traffic = field(default_factory=Traffic)

    async def exchange(self, pdu_type: int, names: list[str], non_repeaters: int = 0,
                       max_repetitions: int = 0) -> Answer:
        request_id = self.dispatcher.next_request_id()
        try:
            message = ber.encode_request(self.credentials.version, self.credentials.community, pdu_type,
                                         request_id, names, non_repeaters, max_repetitions)
        except ber.BerError as exc:
            raise TransportError(str(exc)) from None
        _v, _c, _id, error_status, error_index, var_binds = await self.dispatcher.request(
            self.address, self.family, message, request_id, self.credentials.community.encode(),
            self.timeout, self.retries, self.traffic)
        return Answer(error_status, error_index, var_binds)


class UsmTransport:
    """SNMPv3 to one device through pysnmp (requests built from numeric OIDs: no MIB resolution)."""

    def __init__(self, engine, address: tuple[str, int], credentials: Credentials, timeout: float,
                 retries: int) -> None:
        self.engine = engine
        self.address = address
        self.credentials = credentials
        self.timeout = timeout
        self.retries = retries
        # the engine's running count for this peer and user; this session reports its growth
        self._peer_traffic = engine.by_peer.setdefault((address[0], address[1], credentials.user or ""), Traffic())
        self._start = (self._peer_traffic.pdus, self._peer_traffic.bytes)
        self._target_name: str | None = None

    @property
    def traffic(self) -> Traffic:
        return Traffic(self._peer_traffic.pdus - self._start[0], self._peer_traffic.bytes - self._start[1])

    async def _configure(self) -> str:
        if self._target_name is None:
            from pysnmp.hlapi.v3arch.asyncio import UdpTransportTarget
            from pysnmp.hlapi.v3arch.asyncio.cmdgen import LCD

            target = await UdpTransportTarget.create(self.address, timeout=self.timeout, retries=self.retries)
            self._target_name, _params = LCD.configure(
                self.engine.snmp, self.credentials.auth_data(), target, self.credentials.context or "")
        return self._target_name

    async def exchange(self, pdu_type: int, names: list[str], non_repeaters: int = 0,
                       max_repetitions: int = 0) -> Answer:
        from pysnmp.entity.rfc3413 import cmdgen
        from pysnmp.proto import errind
        from pysnmp.proto.rfc1902 import Null, ObjectName

        target_name = await self._configure()
        generator = {PDU_GET: cmdgen.GetCommandGenerator, PDU_GET_NEXT: cmdgen.NextCommandGenerator,
                     PDU_GET_BULK: cmdgen.BulkCommandGenerator}[pdu_type]()
        bulk = (non_repeaters, max_repetitions) if pdu_type == PDU_GET_BULK else ()
        future = asyncio.get_running_loop().create_future()

        def done(_engine, _handle, error_indication, error_status, error_index, var_binds, _ctx):
            if not future.done():
                future.set_result((error_indication, error_status, error_index, var_binds or ()))

        generator.send_varbinds(self.engine.snmp, target_name, None, self.credentials.context or "", *bulk,
                                [(ObjectName(oid), Null("")) for oid in names], done)
        error_indication, error_status, error_index, var_binds = await future
        if isinstance(error_indication, errind.RequestTimedOut):
            raise TransportTimeout()
        if isinstance(error_indication, errind.TooBig):
            return Answer(TOO_BIG, 0, [])
        if error_indication:
            raise TransportError(str(error_indication), type(error_indication))
        return Answer(int(error_status or 0), int(error_index or 0), [_unpack(vb) for vb in var_binds])


class UsmEngine:
    """The pysnmp engine behind all SNMPv3 sessions of a client, created on first use. Counts request
    PDUs (retries and engine discovery included) and bytes per (address, port, user)."""

    def __init__(self) -> None:
        from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

        self.snmp = SnmpEngine()
        self.by_peer: dict[tuple[str, int, str], Traffic] = {}
        self.snmp.observer.register_observer(self._observe, "rfc3412.sendPdu", "rfc3412.receiveMessage:response")

    def _observe(self, _engine, execpoint: str, variables: dict, _ctx) -> None:
        address = variables.get("transportAddress")
        if not address:
            return
        traffic = self.by_peer.setdefault((str(address[0]), int(address[1]), str(variables.get("securityName"))),
                                          Traffic())
        if execpoint == "rfc3412.sendPdu":
            traffic.pdus += 1
            traffic.bytes += len(variables.get("outgoingMessage") or b"")
        else:
            traffic.bytes += len(variables.get("wholeMsg") or b"")

    def close(self) -> None:
        self.snmp.close_dispatcher()


def _unpack(var_bind: object) -> tuple[str, object]:
    name, value = var_bind  # type: ignore[misc]
    oid = ".".join(map(str, name.asTuple()))
    if type(value).__name__ == "EndOfMibView":
        return oid, END
    return oid, from_pysnmp(value)
