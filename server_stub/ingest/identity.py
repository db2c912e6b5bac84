"""Which physical device a reading belongs to: the one place that decides a device's identity.

Serial number (with the manufacturer, since serials are only unique per vendor) when the device reports
one, else its MAC address, else where it was read (transport, address, port). Together with the agent and
`collected_at` this is a reading's idempotency key.
"""

from __future__ import annotations

from fleetmeter_contract.reading import DeviceReading


def device_key(reading: DeviceReading) -> str:
    identity = reading.identity
    serial = (identity.serial or "").strip()
    if serial:
        return f"serial:{(identity.manufacturer or '').strip().lower()}:{serial}"[:300]
    mac = (identity.mac or "").strip().lower()
    if mac:
        return f"mac:{mac}"[:300]
    return f"{reading.transport}:{reading.address}:{reading.port}"[:300]
