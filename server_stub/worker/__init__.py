"""Periodic work run once per period across all server processes (fleetmeter-server worker)."""
