"""Vendor record strings (a profile's ``[[record_blocks]]``): supplies and meters a vendor publishes in
its private MIB as one OctetString of records, e.g. Brother's maintenance and counters blocks.

Format: records ``<code:1 byte> <flag:1 byte> <length:1 byte> <value:length bytes, big-endian>`` one
after another, ended by 0xFF (or by the end of the string). What each code means is data in the
profile; this module only decodes the bytes and turns records into `RawSupply` rows and counter
candidates (a ``pages_of`` record gives the remaining pages of the supply record it names). The rules for both stay where they are: `agent.printer.supplies` (a supply record's level
is its value, its maximum the block's ``full``) and `agent.printer.counters` (origin ``vendor:<profile>``).

Supplies read from records replace the Printer-MIB rows of the same type and colour (a Printer-MIB row
without a colour counts as any colour): Brother's Printer-MIB reports status codes where the
maintenance block has real levels. A device without the blocks keeps its Printer-MIB rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from agent.printer.counters import Candidate
from agent.printer.profile import Profile, RecordBlock
from agent.printer.supplies import RawSupply
from fleetmeter_contract.reading import CounterSource, Supply

END = 0xFF
PERCENT_UNIT = 19
RECORD_INDEX_BASE = 1000  # supply index of a record: 1000 + its code (stable, apart from Printer-MIB rows)


def decode_records(data: bytes) -> tuple[dict[int, int], str | None]:
    """{code: value} of a record string, and a problem (one line) when it ends in the middle of a record."""
    records: dict[int, int] = {}
    position = 0
    while position < len(data) and data[position] != END:
        if position + 3 > len(data):
            return records, f"record string cut short at byte {position}"
        code, length = data[position], data[position + 2]
        value = data[position + 3:position + 3 + length]
        if len(value) != length or length == 0:
            return records, f"record 0x{code:02x} at byte {position} is cut short"
        records.setdefault(code, int.from_bytes(value, "big"))
        position += 3 + length
    return records, None


def block_records(profile: Profile, cells: Mapping[str, object],
                  warnings: list[str]) -> list[tuple[RecordBlock, dict[int, int]]]:
    """The decoded blocks the device answered (a block it does not publish is simply absent)."""
    found = []
    for block in profile.record_blocks:
        raw = cells.get(block.oid)
        if raw is None:
            continue
        if not isinstance(raw, bytes):
            warnings.append(f"{block.oid}: expected a record string, got {type(raw).__name__}; not used")
            continue
        records, problem = decode_records(raw)
        if problem:
            warnings.append(f"{block.oid}: {problem}; the records before it are used")
        found.append((block, records))
    return found


def record_supplies(blocks: Iterable[tuple[RecordBlock, dict[int, int]]]) -> list[RawSupply]:
    blocks = list(blocks)
    pages: dict[int, int] = {}  # supply record code -> remaining pages (a `pages_of` record, first one wins)
    for block, records in blocks:
        for record in block.records:
            if record.pages_of is not None and record.code in records:
                pages.setdefault(record.pages_of, records[record.code])
    rows = []
    for block, records in blocks:
        for record in block.records:
            if record.type is None or record.code not in records:
                continue
            rows.append(RawSupply(device_index=1, index=RECORD_INDEX_BASE + record.code,
                                  description=record.description, kind=record.type, colorant=record.color,
                                  class_code=4 if record.type == "waste_toner" else 3, unit_code=PERCENT_UNIT,
                                  max_capacity=block.full, level=records[record.code],
                                  pages_remaining=pages.get(record.code)))
    return rows


def record_candidates(profile: Profile, blocks: Iterable[tuple[RecordBlock, dict[int, int]]]) -> list[Candidate]:
    origin = f"vendor:{profile.name}"
    return [Candidate(record.meter, records[record.code],
                      CounterSource(oid=f"{block.oid}#0x{record.code:02x}", origin=origin, unit="impressions"))
            for block, records in blocks for record in block.records
            if record.meter is not None and record.code in records]


def merge_supplies(standard: list[Supply], from_records: list[Supply]) -> list[Supply]:
    """Printer-MIB supplies, minus those a record supply stands for, then the record supplies."""
    def replaced(supply: Supply) -> bool:
        return any(r.type == supply.type and (supply.color is None or r.color == supply.color)
                   for r in from_records)

    return [s for s in standard if not replaced(s)] + from_records
