"""An asynchronous SNMP client: batched GETs and parallel column walks by GETBULK.

Why not a generic walk helper: an inventory needs a dozen table columns; walking them one by one costs a
round trip per column and page. `SnmpSession.walk` walks many columns in *one* GETBULK stream (each
column is one repeater), carries scalars as non-repeaters of the first request, follows agents that
truncate responses, and stops each column at its end. `SnmpSession.get` packs exact OIDs into as few GETs
as the agent accepts. Requests carry numeric OIDs only: no MIB lookups on this path.

The wire work is in `agent.snmp.transport` (SNMPv1/v2c through a lean codec on one shared UDP socket,
SNMPv3 through pysnmp's USM engine). All values leave this module as plain Python values.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agent.snmp.credentials import Credentials
from agent.snmp.transport import (
    END,
    NO_SUCH_NAME,
    PDU_GET,
    PDU_GET_BULK,
    PDU_GET_NEXT,
    TOO_BIG,
    Answer,
    CommunityTransport,
    TransportError,
    TransportTimeout,
    UdpDispatcher,
    UsmEngine,
    UsmTransport,
)
from agent.snmp.values import Raw

DEFAULT_MAX_VARBINDS = 64  # what many printer agents (and snmpsim) answer at most per PDU
MAX_ROUNDS = 400  # a hard stop against agents that never end a walk


@dataclass
class WalkResult:
    scalars: dict[str, Raw]
    columns: dict[str, dict[str, Raw]]
    incomplete: list[str]  # columns the device stopped answering for


class SnmpError(Exception):
    """An SNMP failure with a one-line, user-facing message."""

    exit_code = 1


class SnmpTimeout(SnmpError):
    exit_code = 2


class SnmpAuthError(SnmpError):
    exit_code = 2


_AUTH_ERRORS: dict[str, str] = {  # pysnmp error-indication class name -> message
    "UnknownUserName": "SNMPv3 user unknown to the device",
    "WrongDigest": "SNMPv3 authentication failed (wrong auth key or protocol)",
    "AuthenticationFailure": "SNMPv3 authentication failed",
    "AuthenticationError": "SNMPv3 authentication failed",
    "DecryptionError": "SNMPv3 decryption failed (wrong privacy key or protocol)",
    "UnsupportedSecurityLevel": "SNMPv3 security level not supported by the device for this user",
    "UnknownSecurityName": "SNMPv3 security name unknown to the device",
    "NotInTimeWindow": "SNMPv3 message outside the device's time window",
    "UnknownEngineID": "SNMPv3 engine ID discovery failed",
    "UnsupportedAuthProtocol": "SNMPv3 auth protocol not supported",
    "UnsupportedPrivProtocol": "SNMPv3 privacy protocol not supported",
}


class SnmpClient:
    """What all sessions of a process share: one UDP socket for community requests, and (created on
    first SNMPv3 use, as it is costly) one pysnmp engine."""

    def __init__(self) -> None:
        self.dispatcher = UdpDispatcher()
        self._usm: UsmEngine | None = None

    @property
    def usm(self) -> UsmEngine:
        if self._usm is None:
            self._usm = UsmEngine()
        return self._usm

    def session(self, host: str, port: int = 161, credentials: Credentials | None = None,
                timeout: float = 2.0, retries: int = 1,
                max_varbinds: int = DEFAULT_MAX_VARBINDS) -> SnmpSession:
        return SnmpSession(self, host, port, credentials or Credentials(), timeout, retries, max_varbinds)

    def close(self) -> None:
        self.dispatcher.close()
        if self._usm is not None:
            self._usm.close()


class SnmpSession:
    """Requests to one device with one credential."""

    def __init__(self, client: SnmpClient, host: str, port: int, credentials: Credentials,
                 timeout: float, retries: int, max_varbinds: int) -> None:
        self.client = client
        self.host = host
        self.port = port
        self.credentials = credentials
        self.timeout = timeout
        self.retries = max(0, retries)
        self.max_varbinds = max(1, max_varbinds)
        self._transport: CommunityTransport | UsmTransport | None = None
        self._started = time.perf_counter()

    async def _ensure_transport(self) -> CommunityTransport | UsmTransport:
        if self._transport is None:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
            except (OSError, UnicodeError) as exc:
                raise SnmpTimeout(f"cannot resolve {self.host}: {getattr(exc, 'strerror', None) or exc}; "
                                  "check the address") from None
            family, _type, _proto, _name, sockaddr = infos[0]
            address = (sockaddr[0], sockaddr[1])
            if self.credentials.version == "3":
                self._transport = UsmTransport(self.client.usm, address, self.credentials, self.timeout,
                                               self.retries)
            else:
                self._transport = CommunityTransport(self.client.dispatcher, address, family, self.credentials,
                                                     self.timeout, self.retries)
        return self._transport

    @property
    def pdus(self) -> int:
        return self._transport.traffic.pdus if self._transport else 0

    @property
    def bytes(self) -> int:
        return self._transport.traffic.bytes if self._transport else 0

    @property
    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self._started) * 1000)

    async def _exchange(self, pdu_type: int, names: list[str], non_repeaters: int = 0,
                        max_repetitions: int = 0) -> Answer:
        transport = await self._ensure_transport()
        try:
            return await transport.exchange(pdu_type, names, non_repeaters, max_repetitions)
        except TransportTimeout:
            tries = self.retries + 1
            hint = "check address, port, community" if self.credentials.version != "3" else \
                "check address, port, SNMPv3 user and keys"
            raise SnmpTimeout(
                f"no SNMP answer from {self.host}:{self.port} after {self.timeout:g} s x {tries} "
                f"{'try' if tries == 1 else 'tries'}; {hint}") from None
        except TransportError as exc:
            message = _AUTH_ERRORS.get(exc.kind.__name__ if exc.kind else "")
            if message:
                raise SnmpAuthError(f"{message} at {self.host}:{self.port} ({self.credentials.describe()})") from None
            raise SnmpError(f"SNMP request to {self.host}:{self.port} failed: {exc}") from None

    async def get(self, oids: Sequence[str]) -> dict[str, Raw]:
        """GET exact instances; missing ones map to None. Packs up to `max_varbinds` per PDU."""
        result: dict[str, Raw] = {}
        queue = [list(oids[i:i + self.max_varbinds]) for i in range(0, len(oids), self.max_varbinds)]
        while queue:
            batch = queue.pop(0)
            if not batch:
                continue
            answer = await self._exchange(PDU_GET, batch)
            if answer.error_status == TOO_BIG:
                if len(batch) == 1:
                    result[batch[0]] = None
                    continue
                self.max_varbinds = max(1, len(batch) // 2)
                queue[:0] = [batch[: len(batch) // 2], batch[len(batch) // 2:]]
                continue
            if answer.error_status == NO_SUCH_NAME and answer.error_index:
                # SNMPv1: one missing OID fails the whole PDU; drop it and ask again.
                bad = answer.error_index - 1
                if 0 <= bad < len(batch):
                    result[batch[bad]] = None
                    queue.insert(0, batch[:bad] + batch[bad + 1:])
                    continue
            if answer.error_status or len(answer.var_binds) != len(batch):
                for oid in batch:
                    result.setdefault(oid, None)
                continue
            for oid, (_name, value) in zip(batch, answer.var_binds):
                result[oid] = None if value is END else value
        return result

    async def walk(self, columns: Iterable[str], scalars: Sequence[str] = ()) -> WalkResult:
        """Walk table columns in parallel and read scalars by GETNEXT in the same first request.

        `scalars` are OIDs *without* their instance suffix (e.g. sysDescr ``1.3.6.1.2.1.1.1``): the
        value returned is the first instance below each. ``result.columns[col]`` maps the row index
        suffix ("1.3") to the value.

        A device that stops answering in the middle of a walk (some agents cannot encode a row that a
        large GETBULK runs into) is asked again one row at a time, then with growing batches; columns
        it never answers for are listed in ``result.incomplete``. Only a device that does not answer
        the first request at all raises `SnmpTimeout`.
        """
        columns = list(dict.fromkeys(c.strip(".") for c in columns))
        result = WalkResult({}, {c: {} for c in columns}, [])
        position = {c: c for c in columns}
        pending_scalars = [s.strip(".") for s in scalars]
        first, cautious_reps = True, 0
        for _round in range(MAX_ROUNDS):
            if not (position or pending_scalars):
                break
            active = list(position)
            repeaters = [position[c] for c in active]
            try:
                if self.credentials.version == "1":
                    answer = await self._getnext(pending_scalars + repeaters)
                else:
                    # Fill the response up to what the agent accepts; agents that allow less truncate
                    # (RFC 3416 4.2.3) and the walk continues from the last row received.
                    room = max(1, self.max_varbinds - len(pending_scalars))
                    repetitions = max(1, room // max(1, len(active)))
                    if cautious_reps:
                        repetitions = min(repetitions, cautious_reps)
                    answer = await self._bulk(pending_scalars, repetitions, repeaters)
                    if cautious_reps:
                        cautious_reps *= 2
            except SnmpTimeout:
                if first or self.credentials.version == "1" or cautious_reps == 1:
                    if first:
                        raise
                    result.incomplete.extend(active)
                    break
                cautious_reps = 1
                continue
            first = False
            for scalar, (oid, value) in zip(pending_scalars, answer):
                result.scalars[scalar] = value if _under(oid, scalar) and value is not END else None
            rest = answer[len(pending_scalars):]
            pending_scalars = []
            progressed = False
            finished: set[str] = set()
            for i, (oid, value) in enumerate(rest):
                if not active:
                    break
                column = active[i % len(active)]
                if column in finished:
                    continue
                if value is END or not _under(oid, column) or not _after(oid, position[column]):
                    finished.add(column)
                    continue
                result.columns[column][oid[len(column) + 1:]] = value
                position[column] = oid
                progressed = True
            for column in finished:
                position.pop(column, None)
            if not progressed and not finished:
                result.incomplete.extend(position)
                break  # the agent answered nothing usable; do not loop
        return result

    async def _bulk(self, non_repeaters: list[str], repetitions: int, repeaters: list[str]):
        names = non_repeaters + repeaters
        while True:
            answer = await self._exchange(PDU_GET_BULK, names, len(non_repeaters), repetitions)
            if answer.error_status == TOO_BIG and repetitions > 1:
                repetitions //= 2
                self.max_varbinds = max(len(names), self.max_varbinds // 2)
                continue
            if answer.error_status:
                raise SnmpError(f"SNMP GETBULK to {self.host}:{self.port} failed: error-status "
                                f"{answer.error_status}")
            return answer.var_binds

    async def _getnext(self, names: list[str]) -> list[tuple[str, object]]:
        """SNMPv1 GETNEXT of several names; a name past the end of the MIB comes back as END."""
        if not names:
            return []
        answer = await self._exchange(PDU_GET_NEXT, names)
        if answer.error_status:
            bad = answer.error_index - 1
            if not 0 <= bad < len(names):
                return [(name, END) for name in names]
            rest = await self._getnext(names[:bad] + names[bad + 1:])
            return rest[:bad] + [(names[bad], END)] + rest[bad:]
        return answer.var_binds


def _under(oid: str, prefix: str) -> bool:
    return oid.startswith(prefix + ".")


def _after(oid: str, previous: str) -> bool:
    return tuple(int(x) for x in oid.split(".")) > tuple(int(x) for x in previous.split("."))
