"""The demo: `fleetmeter-server demo` runs the whole product on one machine (server_stub/demo/orchestrator.py)."""
