# Sourced by scripts/test.sh and scripts/demo.sh: installs what is missing, idempotently.
# Debian packages are installed only when their commands are missing (needs root or sudo).
apt_install() {
    local missing=()
    for pair in "$@"; do
        local cmd=${pair%%:*} pkg=${pair##*:}
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "installing Debian packages: ${missing[*]}" >&2
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

apt_install snmpget:snmp systemd-analyze:systemd chromium:chromium  # chromium: portal/console page tests (Playwright drives it)

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
stamp=.venv/.fleetmeter-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e '.[test,server]'
    touch "$stamp"
fi

# PostgreSQL (Debian's cluster 15/main, installed but down): the server's storage tests run against it
# as well as SQLite. Started here, with a superuser role for the current user; tests make their own databases.
start_postgresql() {
    command -v pg_ctlcluster >/dev/null 2>&1 || return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    if ! pg_lsclusters -h 2>/dev/null | awk '$1=="15" && $2=="main" {print $4}' | grep -q online; then
        $sudo pg_ctlcluster 15 main start
    fi
    local out
    if ! out=$($sudo runuser -u postgres -- createuser -s "$(id -un)" 2>&1); then
        case "$out" in *"already exists"*) ;; *) echo "$out" >&2; return 1 ;; esac
    fi
}
start_postgresql
