"""A thin asynchronous SNMP client over pysnmp 7: batched GETs and parallel column walks by GETBULK.

Why not pysnmp's walk helpers: an inventory needs a dozen table columns; walking them one by one costs a
round trip per column and page. `SnmpSession.walk` walks many columns in *one* GETBULK stream (each
column is one repeater), carries scalars as non-repeaters of the first request, follows agents that
truncate responses, and stops each column at its end. `SnmpSession.get` packs exact OIDs into as few GETs
as the agent accepts. Every call runs with ``lookupMib=False``: MIB lookups would double the CPU cost.

Requests go straight to pysnmp's RFC 3413 command generators with numeric OIDs: the high-level
``get_cmd``/``bulk_cmd`` resolve every OID through the MIB view even with ``lookupMib=False``, which
costs about as much CPU as the SNMP exchange itself.

All values leave this module as plain Python values (see `agent.snmp.values.from_pysnmp`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from pysnmp.entity.rfc3413 import cmdgen
from pysnmp.hlapi.v3arch.asyncio import SnmpEngine, UdpTransportTarget
from pysnmp.hlapi.v3arch.asyncio.cmdgen import LCD
from pysnmp.proto import errind
from pysnmp.proto.rfc1902 import Null, ObjectName

from agent.snmp.credentials import Credentials
from agent.snmp.values import Raw, from_pysnmp

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


_AUTH_ERRORS: dict[type, str] = {
    errind.UnknownUserName: "SNMPv3 user unknown to the device",
    errind.WrongDigest: "SNMPv3 authentication failed (wrong auth key or protocol)",
    errind.AuthenticationFailure: "SNMPv3 authentication failed",
    errind.AuthenticationError: "SNMPv3 authentication failed",
    errind.DecryptionError: "SNMPv3 decryption failed (wrong privacy key or protocol)",
    errind.UnsupportedSecurityLevel: "SNMPv3 security level not supported by the device for this user",
    errind.UnknownSecurityName: "SNMPv3 security name unknown to the device",
    errind.NotInTimeWindow: "SNMPv3 message outside the device's time window",
    errind.UnknownEngineID: "SNMPv3 engine ID discovery failed",
    errind.UnsupportedAuthProtocol: "SNMPv3 auth protocol not supported",
    errind.UnsupportedPrivProtocol: "SNMPv3 privacy protocol not supported",
}


@dataclass
class TrafficCounter:
    """Request PDUs sent (retries included) and bytes on the wire, per (address, security name)."""

    by_peer: dict[tuple[str, int, str], list[int]] = field(default_factory=dict)

    def observe(self, _engine: object, execpoint: str, variables: dict, _ctx: object) -> None:
        address = variables.get("transportAddress")
        key = (str(address[0]), int(address[1]), str(variables.get("securityName"))) if address else None
        if key is None:
            return
        entry = self.by_peer.setdefault(key, [0, 0])
        if execpoint == "rfc3412.sendPdu":
            entry[0] += 1
            entry[1] += len(variables.get("outgoingMessage") or b"")
        else:
            entry[1] += len(variables.get("wholeMsg") or b"")

    def snapshot(self, key: tuple[str, int, str]) -> tuple[int, int]:
        pdus, size = self.by_peer.get(key, (0, 0))
        return pdus, size


class SnmpClient:
    """One pysnmp engine shared by all sessions of a process (engine creation is costly)."""

    def __init__(self) -> None:
        self.engine = SnmpEngine()
        self.traffic = TrafficCounter()
        self.engine.observer.register_observer(
            self.traffic.observe, "rfc3412.sendPdu", "rfc3412.receiveMessage:response")

    def session(self, host: str, port: int = 161, credentials: Credentials | None = None,
                timeout: float = 2.0, retries: int = 1,
                max_varbinds: int = DEFAULT_MAX_VARBINDS,
                pace: Callable[[], Awaitable[None]] | None = None) -> SnmpSession:
        """`pace`, when given, is awaited before each request PDU (a sweep's packet-rate limit)."""
        return SnmpSession(self, host, port, credentials or Credentials(), timeout, retries, max_varbinds, pace)

    def close(self) -> None:
        self.engine.close_dispatcher()


class SnmpSession:
    """Requests to one device with one credential."""

    def __init__(self, client: SnmpClient, host: str, port: int, credentials: Credentials,
                 timeout: float, retries: int, max_varbinds: int,
                 pace: Callable[[], Awaitable[None]] | None = None) -> None:
        self.client = client
        self.pace = pace
        self.host = host
        self.port = port
        self.credentials = credentials
        self.timeout = timeout
        self.retries = retries
        self.max_varbinds = max(1, max_varbinds)
        self._auth = credentials.auth_data()
        self._context_name = credentials.context or ""
        self._target_name: str | None = None
        self._target: UdpTransportTarget | None = None
        self._peer: tuple[str, int, str] | None = None
        self._traffic_start = (0, 0)
        self._started = time.perf_counter()

    # ------------------------------------------------------------------ set-up and accounting
    async def _ensure_target(self) -> UdpTransportTarget:
        if self._target is None:
            try:
                self._target = await UdpTransportTarget.create(
                    (self.host, self.port), timeout=self.timeout, retries=self.retries)
            except Exception as exc:  # resolution failures and bad addresses
                raise SnmpTimeout(f"cannot reach {self.host}:{self.port}: {exc}") from None
            self._target_name, _params = LCD.configure(
                self.client.engine, self._auth, self._target, self._context_name)
            address = self._target.transport_address
            name = getattr(self._auth, "securityName", None) or getattr(self._auth, "userName", "")
            self._peer = (str(address[0]), int(address[1]), str(name))
            self._traffic_start = self.client.traffic.snapshot(self._peer)
        return self._target

    @property
    def pdus(self) -> int:
        return self._traffic()[0]

    @property
    def bytes(self) -> int:
        return self._traffic()[1]

    @property
    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self._started) * 1000)

    def _traffic(self) -> tuple[int, int]:
        if self._peer is None:
            return 0, 0
        pdus, size = self.client.traffic.snapshot(self._peer)
        return pdus - self._traffic_start[0], size - self._traffic_start[1]

    # ------------------------------------------------------------------ requests
    def _check(self, error_indication: object, what: str) -> None:
        if not error_indication:
            return
        if isinstance(error_indication, errind.RequestTimedOut):
            tries = self.retries + 1
            hint = "check address, port, community" if self.credentials.version != "3" else \
                "check address, port, SNMPv3 user and keys"
            raise SnmpTimeout(
                f"no SNMP answer from {self.host}:{self.port} after {self.timeout:g} s x {tries} "
                f"{'try' if tries == 1 else 'tries'}; {hint}")
        for kind, message in _AUTH_ERRORS.items():
            if isinstance(error_indication, kind):
                raise SnmpAuthError(f"{message} at {self.host}:{self.port} ({self.credentials.describe()})")
        raise SnmpError(f"SNMP {what} to {self.host}:{self.port} failed: {error_indication}")

    async def get(self, oids: Sequence[str]) -> dict[str, Raw]:
        """GET exact instances; missing ones map to None. Packs up to `max_varbinds` per PDU."""
        result: dict[str, Raw] = {}
        queue = [list(oids[i:i + self.max_varbinds]) for i in range(0, len(oids), self.max_varbinds)]
        while queue:
            batch = queue.pop(0)
            if not batch:
                continue
            error_indication, error_status, error_index, var_binds = await self._request(
                cmdgen.GetCommandGenerator(), batch)
            if isinstance(error_indication, errind.TooBig) or _status(error_status) == "tooBig":
                if len(batch) == 1:
                    result[batch[0]] = None
                    continue
                self.max_varbinds = max(1, len(batch) // 2)
                queue[:0] = [batch[: len(batch) // 2], batch[len(batch) // 2:]]
                continue
            self._check(error_indication, "GET")
            if error_status and _status(error_status) == "noSuchName" and error_index:
                # SNMPv1: one missing OID fails the whole PDU; drop it and ask again.
                bad = int(error_index) - 1
                if 0 <= bad < len(batch):
                    result[batch[bad]] = None
                    queue.insert(0, batch[:bad] + batch[bad + 1:])
                    continue
            if error_status:
                for oid in batch:
                    result.setdefault(oid, None)
                continue
            for oid, (_name, value) in zip(batch, var_binds):
                result[oid] = from_pysnmp(value)
        return result

    async def _request(self, generator, names: list[str], *bulk: int):
        """Send one request PDU of numeric OIDs; returns pysnmp's (indication, status, index, varbinds)."""
        await self._ensure_target()
        if self.pace is not None:
            await self.pace()
        future = asyncio.get_running_loop().create_future()

        def done(_engine, _handle, error_indication, error_status, error_index, var_binds, _ctx):
            if not future.cancelled():
                future.set_result((error_indication, error_status, error_index, var_binds or ()))

        var_binds = [(ObjectName(oid), _NULL) for oid in names]
        generator.send_varbinds(self.client.engine, self._target_name, None, self._context_name,
                                *bulk, var_binds, done)
        return await future

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
        await self._ensure_target()
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
                result.scalars[scalar] = value if _under(oid, scalar) and value is not _END else None
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
                if value is _END or not _under(oid, column) or not _after(oid, position[column]):
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
            error_indication, error_status, _error_index, var_binds = await self._request(
                cmdgen.BulkCommandGenerator(), names, len(non_repeaters), repetitions)
            if (isinstance(error_indication, errind.TooBig) or _status(error_status) == "tooBig") \
                    and repetitions > 1:
                repetitions //= 2
                self.max_varbinds = max(len(names), self.max_varbinds // 2)
                continue
            self._check(error_indication, "GETBULK")
            if error_status:
                raise SnmpError(f"SNMP GETBULK to {self.host}:{self.port} failed: {_status(error_status)}")
            return [_unpack(vb) for vb in var_binds]

    async def _getnext(self, names: list[str]) -> list[tuple[str, object]]:
        """SNMPv1 GETNEXT of several names; a name past the end of the MIB comes back as END."""
        if not names:
            return []
        error_indication, error_status, error_index, var_binds = await self._request(
            cmdgen.NextCommandGenerator(), names)
        self._check(error_indication, "GETNEXT")
        if error_status:
            bad = int(error_index or 0) - 1
            if not 0 <= bad < len(names):
                return [(name, _END) for name in names]
            rest = await self._getnext(names[:bad] + names[bad + 1:])
            return rest[:bad] + [(names[bad], _END)] + rest[bad:]
        return [_unpack(vb) for vb in var_binds]


class _EndMarker:
    def __repr__(self) -> str:
        return "END"


_END = _EndMarker()


_NULL = Null("")


def _unpack(var_bind: object) -> tuple[str, object]:
    name, value = var_bind  # type: ignore[misc]
    oid = ".".join(map(str, name.asTuple()))
    if type(value).__name__ == "EndOfMibView":
        return oid, _END
    return oid, from_pysnmp(value)


def _under(oid: str, prefix: str) -> bool:
    return oid.startswith(prefix + ".")


def _after(oid: str, previous: str) -> bool:
    return tuple(int(x) for x in oid.split(".")) > tuple(int(x) for x in previous.split("."))


def _status(error_status: object) -> str:
    if not error_status:
        return ""
    try:
        return error_status.prettyPrint()  # type: ignore[attr-defined]
    except AttributeError:
        return str(error_status)
