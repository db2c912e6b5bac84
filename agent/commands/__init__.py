"""One module per `fleetmeter-agent` sub-command; each exposes ``register(subparsers)``."""
