"""A model's MIB as the simulated device serves it, answering GET, GETNEXT and GETBULK.

Built once per model: the device file's OIDs as BER bodies in one sorted list (byte order of BER bodies
is OID order), each with its variable binding pre-encoded when it never changes, or a slot naming what
the device's state decides (uptime, identity of this device, meters, supply levels, status). The alert
table (prtAlertTable) is the device's own: its rows come and go, so they are built per answer from the
snapshot and merged into the walk. Lookups are dict hits (GET) and bisects (GETNEXT, GETBULK).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from agent.snmp import ber
from fleetmeter_sim.fleet import SimDevice
from fleetmeter_sim.live import Snapshot
from fleetmeter_sim.models import TYPE_DRUM, TYPE_WASTE_TONER, Model, SupplySpec

ALERT_TABLE = "1.3.6.1.2.1.43.18.1.1"
SUPPLY_LEVEL = "1.3.6.1.2.1.43.11.1.1.9.1."
IF_PHYS_ADDRESS = "1.3.6.1.2.1.2.2.1.6."
IDENTITY = {"1.3.6.1.2.1.1.5.0": "name", "1.3.6.1.2.1.1.6.0": "location",
            "1.3.6.1.2.1.43.5.1.1.17.1": "serial"}
STATUS = {"1.3.6.1.2.1.1.3.0": "uptime", "1.3.6.1.2.1.25.3.2.1.5.1": "device_status",
          "1.3.6.1.2.1.25.3.5.1.1.1": "printer_status", "1.3.6.1.2.1.25.3.5.1.2.1": "errors"}
MAX_VAR_BINDS = 64  # what many printers answer at most per PDU; a GETBULK answer stops there
MAX_MESSAGE = 8192
NO_ERROR, TOO_BIG, NO_SUCH_NAME = 0, 1, 2
# hrPrinterDetectedErrorState bits (first octet, most significant first): lowToner 2, noToner 3,
# serviceRequested 7
LOW_TONER, NO_TONER, SERVICE_REQUESTED = 0x20, 0x10, 0x01
# PrtAlertCodeTC (RFC 3805) by supply type and alert kind; anything else is other(1)
ALERT_CODES = {(TYPE_WASTE_TONER, "near_full"): 1107, (TYPE_WASTE_TONER, "full"): 1109,
               (TYPE_DRUM, "low"): 1111, (TYPE_DRUM, "empty"): 1112}
TONER_CODES = {"low": 1104, "empty": 1101}
ALERT_WORDS = {"low": "low", "empty": "empty", "near_full": "almost full", "full": "full"}
SEVERITY = {"low": 4, "near_full": 4, "empty": 3, "full": 3}  # warning(4), critical(3)
TONER_USES = ("black", "cyan", "magenta", "yellow")


@dataclass(frozen=True)
class Slot:
    """A cell whose value comes from the device or its state."""
    body: bytes  # the OID's BER body
    tag: int
    kind: str  # "uptime", "name", "location", "serial", "mac", "meter", "level", "device_status", ...
    arg: object = None


def reported_level(spec: SupplySpec, percent: float) -> int:
    """prtMarkerSuppliesLevel as this model's gauge shows `percent` (receptacles: percent full)."""
    if spec.report == "unknown":
        return -2
    if spec.report == "some_remaining" and percent > spec.low:
        return -3
    if spec.report.startswith("step:"):
        step = int(spec.report[5:])
        percent = min(100.0, math.floor(percent / step) * step if spec.receptacle else math.ceil(percent / step) * step)
    value = percent * spec.max_capacity / 100
    return int(math.floor(value) if spec.receptacle else math.ceil(value))


class ModelView:
    def __init__(self, model: Model) -> None:
        self.model = model
        supplies = {s.index: s for s in model.supplies}
        self.supplies = supplies
        mac_value = next((r.value for r in model.rows if r.oid.startswith(IF_PHYS_ADDRESS) and r.value), None)
        self.oids: list[bytes] = []
        self.cells: list[bytes | Slot] = []
        for row in model.rows:
            if row.oid.startswith(ALERT_TABLE + "."):
                continue  # the device's alerts are its state's
            body = ber.oid_body(row.oid)
            slot = None
            if row.oid in IDENTITY:
                slot = Slot(body, row.tag, IDENTITY[row.oid])
            elif row.oid in STATUS:
                slot = Slot(body, row.tag, STATUS[row.oid])
            elif row.oid.startswith(IF_PHYS_ADDRESS) and row.value == mac_value:
                slot = Slot(body, row.tag, "mac")
            elif row.oid in model.counters:
                slot = Slot(body, row.tag, "meter", model.counters[row.oid])
            elif row.oid.startswith(SUPPLY_LEVEL) and int(row.oid.rsplit(".", 1)[1]) in supplies:
                slot = Slot(body, row.tag, "level", supplies[int(row.oid.rsplit(".", 1)[1])])
            self.oids.append(body)
            self.cells.append(slot or ber.encode_var_bind(body, ber.encode_value(row.tag, row.value)))
        self.exact = {body: i for i, body in enumerate(self.oids)}

    # -- values -------------------------------------------------------------------------------------

    def _value(self, slot: Slot, device: SimDevice, snap: Snapshot) -> bytes:
        kind = slot.kind
        if kind == "level":
            spec: SupplySpec = slot.arg  # type: ignore[assignment]
            value: object = reported_level(spec, snap.supplies[spec.index])
        elif kind == "meter":
            value = snap.counters[slot.arg] % 2**32  # type: ignore[index]
        elif kind == "uptime":
            value = int(snap.uptime_s * 100) % 2**32
        elif kind == "mac":
            value = device.mac
        elif kind in ("name", "location", "serial"):
            value = getattr(device, kind).encode()
        else:
            value = self._status(kind, snap)
        return ber.encode_var_bind(slot.body, ber.encode_value(slot.tag, value))

    def _status(self, kind: str, snap: Snapshot) -> object:
        toner = [a.kind for a in snap.alerts if self.supplies[a.supply].uses in TONER_USES]
        bits = (LOW_TONER if "low" in toner else 0) | (NO_TONER if "empty" in toner else 0) | (
            SERVICE_REQUESTED if any(a.kind in ("empty", "full") and self.supplies[a.supply].uses not in TONER_USES
                                     for a in snap.alerts) else 0)
        if kind == "errors":
            return bytes((bits,))
        if kind == "device_status":  # running(2), warning(3), down(5)
            return 5 if bits & NO_TONER else 3 if snap.alerts else 2
        return 3  # hrPrinterStatus idle(3)

    def alert_rows(self, snap: Snapshot) -> tuple[list[bytes], list[bytes]]:
        """(sorted OID bodies, variable bindings) of the device's alert table now."""
        rows = []
        for alert in snap.alerts:
            spec = self.supplies[alert.supply]
            code = TONER_CODES[alert.kind] if spec.uses in TONER_USES else ALERT_CODES.get(
                (spec.supply_type, alert.kind), 1)
            ticks = int((snap.uptime_s - (snap.at - alert.since).total_seconds()) * 100) % 2**32
            text = f"{spec.description} {ALERT_WORDS[alert.kind]}".encode()
            values = ((ber.INTEGER, SEVERITY[alert.kind]), (ber.INTEGER, 3), (ber.INTEGER, 11),
                      (ber.INTEGER, alert.supply), (ber.INTEGER, -2), (ber.INTEGER, code),
                      (ber.OCTET_STRING, text), (ber.TIMETICKS, max(0, ticks)))
            for column, (tag, value) in enumerate(values, 2):
                body = ber.oid_body(f"{ALERT_TABLE}.{column}.1.{alert.index}")
                rows.append((body, ber.encode_var_bind(body, ber.encode_value(tag, value))))
        rows.sort()
        return [r[0] for r in rows], [r[1] for r in rows]

    # -- requests -----------------------------------------------------------------------------------

    def respond(self, device: SimDevice, snap: Snapshot, pdu_type: int, names: list[bytes],
                non_repeaters: int, max_repetitions: int, v1: bool) -> tuple[int, int, list[bytes]]:
        """(error status, error index, variable bindings) answering one request."""
        alert_oids, alert_binds = self.alert_rows(snap) if snap.alerts else ([], [])

        def bind(i: int) -> bytes:
            cell = self.cells[i]
            return cell if isinstance(cell, bytes) else self._value(cell, device, snap)

        def get(name: bytes) -> bytes | None:
            i = self.exact.get(name)
            if i is not None:
                return bind(i)
            j = bisect_left(alert_oids, name)
            return alert_binds[j] if j < len(alert_oids) and alert_oids[j] == name else None

        def after(name: bytes) -> tuple[bytes, bytes] | None:
            i = bisect_right(self.oids, name)
            j = bisect_right(alert_oids, name)
            static = self.oids[i] if i < len(self.oids) else None
            alert = alert_oids[j] if j < len(alert_oids) else None
            if static is not None and (alert is None or static < alert):
                return static, bind(i)
            return (alert, alert_binds[j]) if alert is not None else None

        if pdu_type == ber.GET:
            out = []
            for n, name in enumerate(names, 1):
                found = get(name)
                if found is None:
                    if v1:
                        return NO_SUCH_NAME, n, [ber.encode_var_bind(name, b"\x05\x00") for name in names]
                    found = ber.encode_var_bind(name, bytes((self._missing(name), 0)))
                out.append(found)
            return self._sized(out, names)
        if pdu_type == ber.GET_NEXT:
            out = []
            for n, name in enumerate(names, 1):
                nxt = after(name)
                if nxt is None:
                    if v1:
                        return NO_SUCH_NAME, n, [ber.encode_var_bind(name, b"\x05\x00") for name in names]
                    out.append(ber.encode_var_bind(name, b"\x82\x00"))
                else:
                    out.append(nxt[1])
            return self._sized(out, names)
        # GETBULK (RFC 3416 4.2.3): non-repeaters once, then max-repetitions rounds of the rest
        non_repeaters = max(0, min(non_repeaters, len(names)))
        out = []
        for name in names[:non_repeaters]:
            nxt = after(name)
            out.append(nxt[1] if nxt else ber.encode_var_bind(name, b"\x82\x00"))
        cursors = list(names[non_repeaters:])
        size = sum(map(len, out))
        for _round in range(max(0, max_repetitions) if cursors else 0):
            ended = True
            for k, name in enumerate(cursors):
                nxt = after(name)
                if nxt is None:
                    item = ber.encode_var_bind(name, b"\x82\x00")
                else:
                    cursors[k], item = nxt
                    ended = False
                if len(out) >= MAX_VAR_BINDS or size + len(item) > MAX_MESSAGE:
                    return NO_ERROR, 0, out
                out.append(item)
                size += len(item)
            if ended:
                break
        return NO_ERROR, 0, out

    def _missing(self, name: bytes) -> int:
        """noSuchInstance when the object exists (a sibling instance: same parent, one arc more), else
        noSuchObject."""
        parent = name[:_last_arc(name)]
        i = bisect_right(self.oids, parent)
        if i < len(self.oids) and self.oids[i].startswith(parent):
            sibling = self.oids[i]
            if _last_arc(sibling) == len(parent):
                return ber.NO_SUCH_INSTANCE
        return ber.NO_SUCH_OBJECT

    @staticmethod
    def _sized(out: list[bytes], names: list[bytes]) -> tuple[int, int, list[bytes]]:
        if sum(map(len, out)) > MAX_MESSAGE:
            return TOO_BIG, 0, [ber.encode_var_bind(name, b"\x05\x00") for name in names]
        return NO_ERROR, 0, out


def _last_arc(body: bytes) -> int:
    """Where the last arc of an OID body starts (its earlier bytes all carry the continuation bit)."""
    cut = len(body) - 1
    while cut > 0 and body[cut - 1] & 0x80:
        cut -= 1
    return cut
