#!/usr/bin/env bash
# The main job on an embedded default: simulated printers (demo/devices/*.snmprec served by snmpsim on
# 127.0.0.1), polled by the agent exactly as it polls real ones. State lives in ./var/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup-env.sh
export FLEETMETER_HOME="$PWD/var/demo"
mkdir -p "$FLEETMETER_HOME"
port=${FLEETMETER_DEMO_PORT:-16199}

SNMPSIM_ALLOW_ROOT=true .venv/bin/snmpsim-command-responder --data-dir=demo/devices \
    --agent-udpv4-endpoint="127.0.0.1:$port" --cache-dir="$FLEETMETER_HOME/snmpsim-cache" \
    >"$FLEETMETER_HOME/snmpsim.log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "Listening at UDP" "$FLEETMETER_HOME/snmpsim.log" && break; sleep 0.1; done

for device in demo/devices/*.snmprec; do
    community=$(basename "$device" .snmprec)
    echo "== fleetmeter-agent poll 127.0.0.1 --port $port --community $community"
    .venv/bin/fleetmeter-agent poll 127.0.0.1 --port "$port" --community "$community"
    echo
done
