#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh Debian machine, then runs it:
# Debian packages (net-snmp tools), a virtualenv with the project and its test dependencies, pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k supplies).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup-env.sh
exec .venv/bin/python -m pytest "$@"
