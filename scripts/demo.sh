#!/usr/bin/env bash
# The main job on an embedded default: the dealer's server (SQLite) and an enrolled agent service at a
# "site" whose two printers are simulated (fleetmeter_sim/devices/demo-*.snmprec served by snmpsim on 127.0.0.1 and
# 127.0.0.2). The dealer configures the site's range remotely; the agent service discovers the printers,
# reads them and uploads signed readings; the server lists what it stored. Loopback only; state lives
# in ./var/demo and is made anew on each run.
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

say "site: two simulated printers, 127.0.0.1 and 127.0.0.2 port $sim_port, community 'public'"
sim_args=()
n=1
for device in fleetmeter_sim/devices/demo-color-mfp.snmprec fleetmeter_sim/devices/demo-mono-laser.snmprec; do
    mkdir -p "$FLEETMETER_HOME/sim/$n" && cp "$device" "$FLEETMETER_HOME/sim/$n/public.snmprec"
    sim_args+=(--v3-engine-id=auto "--data-dir=$FLEETMETER_HOME/sim/$n" "--agent-udpv4-endpoint=127.0.0.$n:$sim_port")
    n=$((n + 1))
done
SNMPSIM_ALLOW_ROOT=true $bin/snmpsim-command-responder --cache-dir="$FLEETMETER_HOME/snmpsim-cache" \
    "${sim_args[@]}" >"$FLEETMETER_HOME/snmpsim.log" 2>&1 &
pids+=($!)
for _ in $(seq 150); do
    [ "$(grep -c "Listening at UDP" "$FLEETMETER_HOME/snmpsim.log" 2>/dev/null)" -ge $((n - 1)) ] && \
        $bin/python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$http_port/openapi.json', timeout=1)" \
            2>/dev/null && break
    sleep 0.2
done

say "site admin: one printer read by hand (fleetmeter-agent poll 127.0.0.1 --port $sim_port)"
$bin/fleetmeter-agent poll 127.0.0.1 --port "$sim_port"

say "dealer: an agent key for the customer's site (shown once); the site's range and credentials"
key=$($bin/fleetmeter-server agents add demo-site --client "Demo Customer Ltd" --json |
      $bin/python -c 'import json, sys; print(json.load(sys.stdin)["key"])')
$bin/fleetmeter-server config set --agent demo-site ranges "[\"127.0.0.1-127.0.0.2:$sim_port\"]"
echo '[{"version": "2c", "community": "public"}]' | $bin/fleetmeter-server config set --client "Demo Customer Ltd" credentials -

say "site admin: enrol this agent (key pair made here, private key stays here), start the service"
$bin/fleetmeter-agent enroll --server "http://127.0.0.1:$http_port" --key "$key"
$bin/fleetmeter-agent run --quiet >"$FLEETMETER_HOME/agent-run.log" 2>&1 &
agent=$!
pids+=($agent)
for _ in $(seq 100); do [ -S "$FLEETMETER_HOME/agent/data/control.sock" ] && break; sleep 0.2; done

say "agent service: discovery, then an inspection (meters and supplies), now rather than at 01:00 / 02:00"
$bin/fleetmeter-agent scan-now discovery --wait --timeout 120
$bin/fleetmeter-agent scan-now inspection --wait --timeout 120
kill -TERM "$agent" && wait "$agent" 2>/dev/null || true

say "agent: status"
$bin/fleetmeter-agent status

say "dealer: what the server knows"
$bin/fleetmeter-server agents list
$bin/fleetmeter-server devices list
