#!/usr/bin/env bash
# The main job on one machine, on loopback and SQLite: the dealer's server with its worker, a demo client
# with two sites, 90 days of simulated history imported, simulated printers carrying on from it and an
# enrolled agent service per site that keeps reading them. Runs until Ctrl-C, which stops everything it
# started. The steps are in server_stub/demo/orchestrator.py; arguments go to it (e.g. --once, --port P).
# State lives in ./var/demo and is made anew on each run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup-env.sh
exec .venv/bin/fleetmeter-server demo "$@"
