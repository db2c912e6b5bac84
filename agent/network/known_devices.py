"""The known-devices store, one for the `discover` command and the service: SQLite under the agent's
data directory (``known_devices.sqlite``).

- ``devices``: every device discovery has found, keyed by identity. A device is matched by serial, else
  MAC, else (for devices that give neither) address and port: a printer that moved to another address
  (DHCP) keeps its row, and its previous address is remembered. Known printers that a sweep covering
  their last address did not find are "devices to complete".
- ``targets``: what the service's inspections read, as its last discovery left them (address, port and
  which credential answered, by its description: never the secret), so a restart inspects at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Container, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.network.devices import Found, merge_findings, normalise_serial
from agent.snmp.credentials import Credentials
from agent.snmp.fleet import Target
from fleetmeter_contract.reading import utc_now_iso

SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    id INTEGER PRIMARY KEY,
    serial TEXT UNIQUE,            -- normalised (no blanks, upper case)
    mac TEXT UNIQUE,               -- lower case, colon-separated
    address TEXT NOT NULL,
    port INTEGER NOT NULL,
    previous_address TEXT,
    is_printer INTEGER NOT NULL,
    manufacturer TEXT,
    model TEXT,
    source TEXT NOT NULL,
    credential TEXT,               -- which credential set answered (described; never the secret)
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS targets (
    position INTEGER NOT NULL,     -- order of the last discovery
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    credential TEXT NOT NULL,      -- Credentials.describe() of the set that answered
    credential_position INTEGER NOT NULL  -- its place in the configured list (descriptions may collide)
);
"""


@dataclass(frozen=True)
class KnownDevice:
    id: int
    serial: str | None
    mac: str | None
    address: str
    port: int
    previous_address: str | None
    is_printer: bool
    manufacturer: str | None
    model: str | None
    credential: str | None
    last_seen: str

    def to_json(self) -> dict:
        return dict(self.__dict__)


class KnownDevices:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def record_findings(self, findings: list[Found]) -> tuple[list[Found], set[int], dict[str, str]]:
        """A discovery's findings (the `discover` command's and the service's alike): merged into devices and
        each recorded. Returns (the devices, their ids, {new address: previous address} of those that moved)."""
        devices = merge_findings(findings)
        found_ids: set[int] = set()
        moved: dict[str, str] = {}
        for device in devices:
            device_id, moved_from = self.record(device)
            found_ids.add(device_id)
            if moved_from:
                moved[device.address] = moved_from
        return devices, found_ids, moved

    def record(self, found: Found, seen_at: str | None = None) -> tuple[int, str | None]:
        """Insert or update the device; returns (its id, the address it moved from or None)."""
        now = seen_at or utc_now_iso()
        serial = normalise_serial(found.identity.serial) if found.identity.serial else None
        mac = found.identity.mac.lower() if found.identity.mac else None
        row = self._match(serial, mac, found.address, found.port)
        with self.db:
            if mac:  # a MAC now seen on this device cannot stay on another row (NIC moved, print server)
                self.db.execute("UPDATE devices SET mac = NULL WHERE mac = ? AND id != ?",
                                (mac, row[0] if row else -1))
            if row is None:
                cursor = self.db.execute(
                    "INSERT INTO devices (serial, mac, address, port, is_printer, manufacturer, model, source,"
                    " credential, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (serial, mac, found.address, found.port, int(found.is_printer), found.identity.manufacturer,
                     found.identity.model, found.source, found.credential, now, now))
                return int(cursor.lastrowid or 0), None
            device_id, old_address, old_port = row
            moved = old_address if (old_address, old_port) != (found.address, found.port) else None
            self.db.execute(
                "UPDATE devices SET serial = COALESCE(?, serial), mac = COALESCE(?, mac), address = ?, port = ?,"
                " previous_address = COALESCE(?, previous_address), is_printer = ?,"
                " manufacturer = COALESCE(?, manufacturer), model = COALESCE(?, model), source = ?,"
                " credential = COALESCE(?, credential), last_seen = ? WHERE id = ?",
                (serial, mac, found.address, found.port, moved, int(found.is_printer), found.identity.manufacturer,
                 found.identity.model, found.source, found.credential, now, device_id))
            return device_id, moved

    def _match(self, serial: str | None, mac: str | None, address: str, port: int):
        if serial:
            row = self.db.execute("SELECT id, address, port FROM devices WHERE serial = ?", (serial,)).fetchone()
            if row:
                return row
            # a row known by MAC only, or with another serial under this MAC, is this device only
            # when it had no serial yet
            row = self.db.execute("SELECT id, address, port FROM devices WHERE mac = ? AND serial IS NULL",
                                  (mac,)).fetchone() if mac else None
            return row
        if mac:
            return self.db.execute("SELECT id, address, port FROM devices WHERE mac = ?", (mac,)).fetchone()
        return self.db.execute(
            "SELECT id, address, port FROM devices WHERE serial IS NULL AND mac IS NULL AND address = ? AND port = ?",
            (address, port)).fetchone()

    def to_complete(self, covered: Container[str], found_ids: Container[int]) -> list[KnownDevice]:
        """Known printers whose last address a sweep covered but which it did not find."""
        rows = self.db.execute(
            "SELECT id, serial, mac, address, port, previous_address, is_printer, manufacturer, model,"
            " credential, last_seen FROM devices WHERE is_printer = 1 ORDER BY last_seen").fetchall()
        devices = [KnownDevice(*row[:6], bool(row[6]), *row[7:]) for row in rows]
        return [d for d in devices if d.id not in found_ids and d.address in covered]

    def all(self) -> list[KnownDevice]:
        rows = self.db.execute(
            "SELECT id, serial, mac, address, port, previous_address, is_printer, manufacturer, model,"
            " credential, last_seen FROM devices ORDER BY id").fetchall()
        return [KnownDevice(*row[:6], bool(row[6]), *row[7:]) for row in rows]

    def save(self, targets: Sequence[Target], credentials: Sequence[Credentials]) -> None:
        """Replace the service's inspection targets with a discovery's (only those whose credential is
        still configured)."""
        rows = [(position, t.host, t.port, t.credentials.describe(), credentials.index(t.credentials))
                for position, t in enumerate(targets) if t.credentials in credentials]
        with self.db:
            self.db.execute("DELETE FROM targets")
            self.db.executemany("INSERT INTO targets (position, host, port, credential, credential_position)"
                                " VALUES (?,?,?,?,?)", rows)

    def load(self, credentials: Sequence[Credentials]) -> list[Target]:
        """The saved targets whose credential is still configured, at its old place or (after the list
        was reordered) by its description; the others wait for discovery."""
        by_description = {c.describe(): c for c in credentials}
        rows = self.db.execute("SELECT host, port, credential, credential_position FROM targets"
                               " ORDER BY position").fetchall()
        targets = []
        for host, port, description, place in rows:
            same_place = credentials[place] if 0 <= place < len(credentials) else None
            credential = same_place if same_place is not None and same_place.describe() == description \
                else by_description.get(description)
            if credential is not None:
                targets.append(Target(host, port, credential))
        return targets
