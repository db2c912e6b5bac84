"""Atomic, private file writes: shared with the server, kept in fleetmeter_contract.files."""

from fleetmeter_contract.files import write_atomic, write_private

__all__ = ["write_atomic", "write_private"]
