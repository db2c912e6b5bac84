"""Reading one printer over SNMP into a `DeviceReading`.

Two phases keep the request count low (typically 3-4 PDUs for a whole inventory):

1. one parallel GETBULK walk of the system scalars plus one *key* column per table (hrDeviceType,
   ifPhysAddress, hrPrinterStatus/ErrorState, prtGeneralSerialNumber, prtMarkerLifeCount,
   prtMarkerSuppliesLevel, prtMarkerColorantValue, prtAlertSeverityLevel, prtInputCurrentLevel):
   this reads those values and tells which rows each table has;
2. GETs of exactly the remaining cells of those rows plus the vendor profile's OIDs, packed.

A profile whose meters pick rows of a counter table by type (Ricoh's engine counters) costs its own
devices one more request: that type column is walked once the profile is known, and the matching
value cells join the phase 2 GETs.
The PWG Imaging System Counter MIB costs no request of its own: its key column (icKeyServiceType)
rides along in phase 1 (one more repeater, answered by whatever follows it on devices without it),
and its counter cells join the phase 2 GETs only when the device listed services.

Decoding is defensive: a value of the wrong type or out of range becomes null plus a warning.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from agent.printer import counters as precedence
from agent.printer import records as record_rules
from agent.printer.profile import Profile, Source, device_id_scalars, device_ids, select_profile
from agent.printer.settings import ReadSettings
from agent.printer.supplies import RawSupply, build_supply
from agent.snmp import meters as counter_rules
from agent.snmp import oids
from agent.snmp.client import SnmpSession
from agent.snmp.status import (
    ALERT_CODE,
    ALERT_GROUP,
    ALERT_SEVERITY,
    ALERT_TRAINING,
    HR_DEVICE_STATUS,
    HR_PRINTER_STATUS,
    INPUT_TYPES,
    MARKER_COUNTER_UNITS,
    detected_errors,
)
from agent.snmp.values import Raw, Warnings, as_count, as_int, as_mac, as_oid, as_text, enum_name
from fleetmeter_contract.reading import Alert, DeviceReading, Identity, Marker, Status, Tray


KEY_COLUMNS = (
    oids.HR_DEVICE_TYPE,
    oids.IF_PHYS_ADDRESS,
    oids.HR_PRINTER_STATUS,
    oids.HR_PRINTER_DETECTED_ERROR_STATE,
    oids.PRT_GENERAL_SERIAL_NUMBER,
    oids.PRT_MARKER_LIFE_COUNT,
    oids.PRT_SUPPLIES_LEVEL,
    oids.PRT_COLORANT_VALUE,
    oids.PRT_ALERT_SEVERITY,
    oids.PRT_INPUT_CURRENT_LEVEL,
    oids.IC_KEY_SERVICE_TYPE,
)
SUPPLY_COLUMNS = (
    oids.PRT_SUPPLIES_DESCRIPTION, oids.PRT_SUPPLIES_TYPE, oids.PRT_SUPPLIES_CLASS, oids.PRT_SUPPLIES_UNIT,
    oids.PRT_SUPPLIES_MAX_CAPACITY, oids.PRT_SUPPLIES_COLORANT_INDEX,
)
MARKER_COLUMNS = (oids.PRT_MARKER_COUNTER_UNIT, oids.PRT_MARKER_POWER_ON_COUNT)
INPUT_COLUMNS = (oids.PRT_INPUT_NAME, oids.PRT_INPUT_MEDIA_NAME, oids.PRT_INPUT_MAX_CAPACITY, oids.PRT_INPUT_TYPE)
ALERT_COLUMNS = (
    oids.PRT_ALERT_TRAINING, oids.PRT_ALERT_GROUP, oids.PRT_ALERT_GROUP_INDEX, oids.PRT_ALERT_LOCATION,
    oids.PRT_ALERT_CODE, oids.PRT_ALERT_DESCRIPTION, oids.PRT_ALERT_TIME,
)
DEVICE_COLUMNS = (oids.HR_DEVICE_DESCR, oids.HR_DEVICE_STATUS)
IDENTITY_COLUMNS = (oids.HR_DEVICE_TYPE, oids.IF_PHYS_ADDRESS, oids.PRT_GENERAL_SERIAL_NUMBER)


async def read_device(session: SnmpSession, settings: ReadSettings = ReadSettings()) -> DeviceReading:
    """Poll one device. Raises `SnmpError` subclasses only when the device cannot be read at all.

    `settings` holds the user's own meters (origin ``config``, read in the same GETs) and the
    low-supply threshold.
    """
    reading = DeviceReading(address=session.host, port=session.port)
    warnings = Warnings()
    walked = await session.walk(KEY_COLUMNS, oids.SYSTEM_SCALARS + device_id_scalars())
    scalars, keys = walked.scalars, walked.columns
    _note_incomplete(walked.incomplete, warnings)

    identity = _system_identity(scalars, warnings)
    profile = select_profile(identity.sys_object_id, identity.sys_descr, device_ids(scalars))
    extra_meters = settings.meters.for_profile(profile.name)
    type_columns = counter_rules.key_columns(profile.counters + extra_meters)
    if type_columns:  # counter tables keyed by type (Ricoh): one more request, for those devices only
        typed = await session.walk(type_columns)
        keys = {**keys, **typed.columns}
        _note_incomplete(typed.incomplete, warnings)
    printer_devices = _printer_devices(keys, warnings)
    rows = {column: sorted(keys[column], key=_index_key) for column in KEY_COLUMNS}

    wanted = [f"{column}.{row}" for column in SUPPLY_COLUMNS for row in rows[oids.PRT_SUPPLIES_LEVEL]]
    wanted += [f"{column}.{row}" for column in MARKER_COLUMNS for row in rows[oids.PRT_MARKER_LIFE_COUNT]]
    wanted += [f"{column}.{row}" for column in INPUT_COLUMNS for row in rows[oids.PRT_INPUT_CURRENT_LEVEL]]
    wanted += [f"{column}.{row}" for column in ALERT_COLUMNS for row in rows[oids.PRT_ALERT_SEVERITY]]
    described = printer_devices or rows[oids.HR_DEVICE_TYPE][:1]
    wanted += [f"{column}.{device}" for column in DEVICE_COLUMNS for device in described]
    wanted += profile.vendor_oids()
    wanted += counter_rules.pwg_oids(keys[oids.IC_KEY_SERVICE_TYPE])
    wanted += counter_rules.keyed_oids(profile.counters + extra_meters, keys)
    wanted += [oid for spec in extra_meters for oid in spec.oids]
    wanted = list(dict.fromkeys(wanted))
    cells = await session.get(wanted) if wanted else {}

    def cell(column: str, row: str) -> Raw:
        return cells.get(f"{column}.{row}")

    reading.markers = _markers(keys, rows, cell, warnings)
    reading.supplies = _supplies(keys, rows, cell, profile, settings.supply_low_percent, warnings)
    blocks = record_rules.block_records(profile, cells, warnings)  # vendor record strings (Brother)
    if blocks:
        reading.supplies = record_rules.merge_supplies(reading.supplies, [
            build_supply(raw, profile.supply_quirks, settings.supply_low_percent)
            for raw in record_rules.record_supplies(blocks)])
    reading.trays = _trays(keys, rows, cell, warnings)
    reading.alerts = _alerts(keys, rows, cell, warnings)
    reading.status = _status(keys, printer_devices, cell, warnings)
    reading.is_printer = bool(printer_devices) or bool(reading.supplies or reading.markers) or \
        profile.matches_device_id(device_ids(scalars))

    _complete_identity(identity, profile, keys, described[0] if described else None, cells, warnings)
    reading.identity = identity
    reading.profile = profile.name if profile.name != "generic" else None

    candidates = counter_rules.standard_candidates(reading.markers)
    candidates += counter_rules.pwg_candidates(keys[oids.IC_KEY_SERVICE_TYPE], cells, warnings)
    candidates += counter_rules.meter_candidates(profile.counters, cells, f"vendor:{profile.name}", warnings,
                                                 keys)
    candidates += counter_rules.meter_candidates(extra_meters, cells, "config", warnings, keys)
    candidates += record_rules.record_candidates(profile, blocks)
    reading.counters, reading.counter_sources = precedence.choose(candidates, warnings)
    reading.warnings = list(warnings)
    reading.stats.pdus = session.pdus
    reading.stats.bytes = session.bytes
    reading.stats.elapsed_ms = session.elapsed_ms
    return reading


def _note_incomplete(columns: list[str], warnings: Warnings) -> None:
    for column in columns:
        warnings.add(column, "the device stopped answering while this column was read; rows may be missing")


async def read_identity(session: SnmpSession) -> Identity:
    """Identity only (discovery of a printer): one GETBULK of the system scalars and the identity key
    columns, then one GET of hrDeviceDescr and the profile's identity OIDs."""
    warnings = Warnings()
    walked = await session.walk(IDENTITY_COLUMNS, oids.SYSTEM_SCALARS + device_id_scalars())
    keys = {column: walked.columns.get(column, {}) for column in KEY_COLUMNS}
    identity = _system_identity(walked.scalars, warnings)
    profile = select_profile(identity.sys_object_id, identity.sys_descr, device_ids(walked.scalars))
    printer_devices = _printer_devices(keys, warnings)
    described = printer_devices or sorted(keys[oids.HR_DEVICE_TYPE], key=_index_key)[:1]
    wanted = [f"{oids.HR_DEVICE_DESCR}.{device}" for device in described[:1]] + profile.identity_oids()
    cells = await session.get(wanted) if wanted else {}
    _complete_identity(identity, profile, keys, described[0] if described else None, cells, warnings)
    return identity


def _complete_identity(identity: Identity, profile: Profile, keys: Mapping[str, Mapping[str, Raw]],
                       device: str | None, cells: Mapping[str, Raw], warnings: Warnings) -> None:
    """Serial, model, firmware, manufacturer (profile rules) and MAC, from what was read."""
    standard = {
        "sysDescr": identity.sys_descr,
        "sysName": identity.sys_name,
        "hrDeviceDescr": as_text(cells.get(f"{oids.HR_DEVICE_DESCR}.{device}"), "hrDeviceDescr", warnings)
        if device else None,
        "prtGeneralSerialNumber": _serial_from_table(keys, device, warnings),
    }
    vendor = {oid: cells.get(oid) for oid in profile.identity_oids()}
    _profile_identity(identity, profile, standard, vendor, warnings)
    identity.mac = _mac(keys)


def _system_identity(scalars: Mapping[str, Raw], warnings: Warnings) -> Identity:
    uptime = as_count(scalars.get(oids.SYS_UPTIME), "sysUpTime", warnings)
    return Identity(
        sys_descr=as_text(scalars.get(oids.SYS_DESCR), "sysDescr", warnings),
        sys_object_id=as_oid(scalars.get(oids.SYS_OBJECT_ID), "sysObjectID", warnings),
        sys_name=as_text(scalars.get(oids.SYS_NAME), "sysName", warnings),
        contact=as_text(scalars.get(oids.SYS_CONTACT), "sysContact", warnings),
        location=as_text(scalars.get(oids.SYS_LOCATION), "sysLocation", warnings),
        uptime_s=uptime // 100 if uptime is not None else None,
    )


def _printer_devices(keys: Mapping[str, Mapping[str, Raw]], warnings: Warnings) -> list[str]:
    """hrDeviceIndex values of printer devices; else the devices the Printer-MIB tables name."""
    devices = [row for row, value in keys[oids.HR_DEVICE_TYPE].items()
               if as_oid(value, f"hrDeviceType.{row}", warnings) == oids.HR_DEVICE_PRINTER]
    if not devices:
        for column in (oids.PRT_MARKER_LIFE_COUNT, oids.PRT_SUPPLIES_LEVEL, oids.PRT_GENERAL_SERIAL_NUMBER):
            devices += [row.split(".")[0] for row in keys[column]]
    return sorted(dict.fromkeys(d for d in devices if d.isdigit()), key=int)


def _serial_from_table(keys: Mapping[str, Mapping[str, Raw]], device: str | None,
                       warnings: Warnings) -> str | None:
    serials = keys[oids.PRT_GENERAL_SERIAL_NUMBER]
    raw = serials.get(device) if device in serials else next(iter(serials.values()), None)
    return as_text(raw, "prtGeneralSerialNumber", warnings)


def _profile_identity(identity: Identity, profile: Profile, standard: Mapping[str, str | None],
                      vendor: Mapping[str, Raw], warnings: Warnings) -> None:
    def first(sources: tuple[Source, ...]) -> str | None:
        for source in sources:
            raw = standard.get(source.alias) if source.alias else \
                as_text(vendor.get(source.oid), source.oid or "", warnings)
            value = source.extract(raw)
            if value and not _placeholder(value):
                return value
        return None

    identity.serial = first(profile.identity["serial"])
    identity.model = profile.clean_model(first(profile.identity["model"]))
    identity.firmware = first(profile.identity["firmware"])
    identity.manufacturer = profile.manufacturer_for(identity.sys_descr)


def _placeholder(value: str) -> bool:
    """Serial-like values that mean "none": all zeros, all X, all the same letter + zeros, etc."""
    compact = value.replace(" ", "").replace("-", "").upper()
    return compact in ("", "UNKNOWN", "NONE", "N/A", "NA") or set(compact) <= {"0", "X", "?"} or \
        compact.endswith("0A00000") and len(set(compact[:3])) == 1


def _mac(keys: Mapping[str, Mapping[str, Raw]]) -> str | None:
    for row in sorted(keys[oids.IF_PHYS_ADDRESS], key=_index_key):
        mac = as_mac(keys[oids.IF_PHYS_ADDRESS][row])
        if mac:
            return mac
    return None


def _markers(keys, rows, cell, warnings: Warnings) -> list[Marker]:
    markers = []
    for row, device, index, where in _table_rows(rows[oids.PRT_MARKER_LIFE_COUNT], "prtMarker."):
        markers.append(Marker(
            device_index=device, index=index,
            life_count=as_count(keys[oids.PRT_MARKER_LIFE_COUNT][row], where + " life count", warnings),
            power_on_count=as_count(cell(oids.PRT_MARKER_POWER_ON_COUNT, row),
                                         where + " power-on count", warnings),
            counter_unit=enum_name(cell(oids.PRT_MARKER_COUNTER_UNIT, row), MARKER_COUNTER_UNITS,
                                   where + " counter unit", warnings),
        ))
    return markers


def _supplies(keys, rows, cell, profile: Profile, low_percent: float, warnings: Warnings):
    colorants = keys[oids.PRT_COLORANT_VALUE]
    supplies = []
    for row, device, index, where in _table_rows(rows[oids.PRT_SUPPLIES_LEVEL], "supply "):
        colorant_index = as_int(cell(oids.PRT_SUPPLIES_COLORANT_INDEX, row), where + " colorant", warnings)
        colorant = None
        if colorant_index and colorant_index > 0:
            colorant = as_text(colorants.get(f"{device}.{colorant_index}"), where + " colorant", warnings)
        description = as_text(cell(oids.PRT_SUPPLIES_DESCRIPTION, row), where + " description", warnings,
                              hex_dump=True)
        parts = profile.supply_description.match(description) \
            if profile.supply_description and description else None
        fields = {k: v.strip() for k, v in parts.groupdict().items() if v} if parts else {}
        raw = RawSupply(
            device_index=device,
            index=index,
            description=fields.get("description", description),
            part_number=fields.get("part_number"),
            serial=fields.get("serial"),
            type_code=as_int(cell(oids.PRT_SUPPLIES_TYPE, row), where + " type", warnings),
            class_code=as_int(cell(oids.PRT_SUPPLIES_CLASS, row), where + " class", warnings),
            unit_code=as_int(cell(oids.PRT_SUPPLIES_UNIT, row), where + " unit", warnings),
            max_capacity=as_int(cell(oids.PRT_SUPPLIES_MAX_CAPACITY, row), where + " max capacity", warnings),
            level=as_int(keys[oids.PRT_SUPPLIES_LEVEL][row], where + " level", warnings),
            colorant=colorant,
        )
        supplies.append(build_supply(raw, profile.supply_quirks, low_percent))
    return supplies


def _trays(keys, rows, cell, warnings: Warnings) -> list[Tray]:
    trays = []
    for row, device, index, where in _table_rows(rows[oids.PRT_INPUT_CURRENT_LEVEL], "input "):
        trays.append(Tray(
            device_index=device, index=index,
            name=as_text(cell(oids.PRT_INPUT_NAME, row), where + " name", warnings),
            media=as_text(cell(oids.PRT_INPUT_MEDIA_NAME, row), where + " media", warnings),
            level=as_int(keys[oids.PRT_INPUT_CURRENT_LEVEL][row], where + " level", warnings),
            max_capacity=as_int(cell(oids.PRT_INPUT_MAX_CAPACITY, row), where + " max capacity", warnings),
            type=enum_name(cell(oids.PRT_INPUT_TYPE, row), INPUT_TYPES, where + " type", warnings),
        ))
    return trays


def _alerts(keys, rows, cell, warnings: Warnings) -> list[Alert]:
    alerts = []
    for row, device, index, where in _table_rows(rows[oids.PRT_ALERT_SEVERITY], "alert "):
        alerts.append(Alert(
            device_index=device, index=index,
            severity=enum_name(keys[oids.PRT_ALERT_SEVERITY][row], ALERT_SEVERITY, where + " severity", warnings),
            training=enum_name(cell(oids.PRT_ALERT_TRAINING, row), ALERT_TRAINING, where + " training", warnings),
            group=enum_name(cell(oids.PRT_ALERT_GROUP, row), ALERT_GROUP, where + " group", warnings),
            group_index=as_int(cell(oids.PRT_ALERT_GROUP_INDEX, row), where + " group index", warnings),
            location=as_int(cell(oids.PRT_ALERT_LOCATION, row), where + " location", warnings),
            code=enum_name(cell(oids.PRT_ALERT_CODE, row), ALERT_CODE, where + " code", warnings),
            description=as_text(cell(oids.PRT_ALERT_DESCRIPTION, row), where + " description", warnings,
                                hex_dump=True),
            time_ticks=as_count(cell(oids.PRT_ALERT_TIME, row), where + " time", warnings),
        ))
    return alerts


def _status(keys, printer_devices: list[str], cell, warnings: Warnings) -> Status:
    if not printer_devices:
        return Status()
    device = printer_devices[0]
    return Status(
        device=enum_name(cell(oids.HR_DEVICE_STATUS, device), HR_DEVICE_STATUS, "hrDeviceStatus", warnings),
        printer=enum_name(keys[oids.HR_PRINTER_STATUS].get(device), HR_PRINTER_STATUS, "hrPrinterStatus",
                          warnings),
        errors=detected_errors(keys[oids.HR_PRINTER_DETECTED_ERROR_STATE].get(device),
                               "hrPrinterDetectedErrorState", warnings),
    )



def _table_rows(rows: list[str], label: str) -> Iterator[tuple[str, int, int, str]]:
    """(row, hrDeviceIndex, row index, where-label) for each well-formed "device.index" row."""
    for row in rows:
        parts = row.split(".")
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            yield row, int(parts[0]), int(parts[1]), f"{label}{row}"


def _index_key(row: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in row.split("."))
