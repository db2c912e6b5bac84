#!/usr/bin/env bash
# The main job on an embedded default: the dealer's server (SQLite) and an enrolled agent at a "site"
# whose printers are simulated (demo/devices/*.snmprec served by snmpsim on 127.0.0.1). The agent reads
# every printer and uploads signed readings; the server lists what it stored. Everything runs on
# loopback; state lives in ./var/demo and is made anew on each run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup-env.sh
export FLEETMETER_HOME="$PWD/var/demo"
rm -rf "$FLEETMETER_HOME" && mkdir -p "$FLEETMETER_HOME"
sim_port=${FLEETMETER_DEMO_SNMP_PORT:-16199}
http_port=${FLEETMETER_DEMO_HTTP_PORT:-18443}
bin=.venv/bin
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

say() { printf '\n== %s\n' "$*"; }

say "dealer: create the server's CA and database, start the server on 127.0.0.1:$http_port"
$bin/fleetmeter-server init
$bin/fleetmeter-server serve --host 127.0.0.1 --port "$http_port" --log-level warning \
    >"$FLEETMETER_HOME/server.log" 2>&1 &
pids+=($!)

say "site: simulated printers on 127.0.0.1:$sim_port (snmpsim)"
SNMPSIM_ALLOW_ROOT=true $bin/snmpsim-command-responder --data-dir=demo/devices \
    --agent-udpv4-endpoint="127.0.0.1:$sim_port" --cache-dir="$FLEETMETER_HOME/snmpsim-cache" \
    >"$FLEETMETER_HOME/snmpsim.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    grep -q "Listening at UDP" "$FLEETMETER_HOME/snmpsim.log" 2>/dev/null && \
        $bin/python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$http_port/openapi.json', timeout=1)" \
            2>/dev/null && break
    sleep 0.2
done

say "dealer: an agent key for the customer's site (shown once)"
key=$($bin/fleetmeter-server agents add demo-site --client "Demo Customer Ltd" --json |
      $bin/python -c 'import json, sys; print(json.load(sys.stdin)["key"])')

say "site admin: enrol this agent (key pair made here, private key stays here)"
$bin/fleetmeter-agent enroll --server "http://127.0.0.1:$http_port" --key "$key"

for device in demo/devices/*.snmprec; do
    community=$(basename "$device" .snmprec)
    say "agent: fleetmeter-agent poll 127.0.0.1 --port $sim_port --community $community --upload"
    $bin/fleetmeter-agent poll 127.0.0.1 --port "$sim_port" --community "$community" --upload
done

say "agent: status"
$bin/fleetmeter-agent status

say "dealer: what the server stored"
$bin/fleetmeter-server agents list
$bin/fleetmeter-server devices list
