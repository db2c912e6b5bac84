"""`fleetmeter-server demo`: the whole product on one machine, on SQLite, on loopback.

    fleetmeter-server demo [--once] [--home DIR] [--port P] [--snmp-port P] [--devices N] [--days D]

The demo is a list of named steps (`STEPS`); each runs the project's own commands (the server's and the
agent's CLIs, `fleetmeter-sim`) as a dealer and a site admin would, so the demo shows what they type. A step
is a function of the `Demo` (its home, ports, the processes started so far); to add one, write the function
and put it in `STEPS` where it belongs.

Every process the demo starts is its child in its process group; Ctrl-C (or SIGTERM) stops them all (SIGTERM,
then SIGKILL after a grace period) before the demo exits. `--once` runs the same chain, prints what the server
holds and exits 0 (for CI).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from server_stub.billing.periods import Period
from server_stub.cli.common import CliError, bounded, printable

CLIENT = "Demo Customer Ltd"
SITES = ("north", "south")  # one agent each; the printers are split between them
# The simulated fleet's seed: with it two supplies of one site run out within the client's consolidation
# window, so the worker places a parcel of more than one line (checked with `supply backtest` for every third
# day of a year as the start, 4 and 6 devices, 62 and 90 days of history).
SEED = 15
# The demo client's reorder policy level: as Xerox ASR (an order no later than 21 days before empty) and one
# parcel for what else runs out within 45 days (server_stub.supply.policy).
CLIENT_POLICY = {"max_days_before_empty": 21, "consolidation_days": 45}
# The billing plan for the demo client (server_stub/billing/plan.example.toml has the other types).
BILLING_PLAN = """currency = "EUR"
type = "simple"
[prices]
mono = 0.0060
color = 0.0550
"""
SIM_BASE = "127.0.20.1"  # one loopback address per simulated printer
GRACE_S = 10.0
SOCKET_PATH_MAX = 107  # AF_UNIX sun_path on Linux, less the terminating NUL


class DemoError(Exception):
    """A step that failed: one line, the demo stops everything it started."""


@dataclass
class Demo:
    home: Path
    port: int
    snmp_port: int
    devices: int
    days: int
    once: bool
    processes: list[tuple[str, subprocess.Popen]] = field(default_factory=list)
    printers: list[dict] = field(default_factory=list)  # fleetmeter-sim's --list-json devices
    login: str | None = None  # the console password made by the "console login" step
    history_start: date | None = None
    history_done: datetime | None = None  # when the last history reading was stored
    bill: dict | None = None  # last month's bill (billing run --json)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def site_home(self, site: str) -> Path:
        return self.home / f"site-{site}"

    def site_printers(self, site: str) -> list[dict]:
        half = (len(self.printers) + 1) // 2
        return self.printers[:half] if site == SITES[0] else self.printers[half:]

    def env(self, home: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "FLEETMETER_DB"}
        env["FLEETMETER_HOME"] = str(home)
        env["SNMPSIM_ALLOW_ROOT"] = "true"
        return env

    def run(self, *argv: str, home: Path | None = None, show: bool = True, stdin: str | None = None) -> str:
        """Run one of the project's commands; print it and its output (the demo shows what people type)."""
        if show:
            print(f"$ {shlex.join(argv)}", flush=True)
        proc = subprocess.run([program(argv[0]), *argv[1:]], env=self.env(home or self.home), input=stdin,
                              capture_output=True, text=True, timeout=600)
        if show and proc.stdout.strip():
            print(proc.stdout.rstrip(), flush=True)
        if proc.returncode != 0:
            raise DemoError(f"{' '.join(argv[:3])} failed: {(proc.stderr or proc.stdout).strip()[-400:]}")
        return proc.stdout

    def start(self, name: str, *argv: str, home: Path | None = None) -> subprocess.Popen:
        """Start a long-running process (its output goes to HOME/NAME.log)."""
        log = open(self.home / f"{name}.log", "ab")
        print(f"$ {shlex.join(argv)} &    (log: {self.home / f'{name}.log'})", flush=True)
        proc = subprocess.Popen([program(argv[0]), *argv[1:]], env=self.env(home or self.home), stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self.processes.append((name, proc))
        return proc

    def check_running(self) -> None:
        for name, proc in self.processes:
            if proc.poll() is not None:
                raise DemoError(f"{name} exited ({proc.returncode}); see {self.home / f'{name}.log'}")

    def stop_all(self) -> None:
        """SIGTERM to every process started, newest first; SIGKILL whatever is left after the grace period."""
        for _, proc in reversed(self.processes):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_S
        for _, proc in reversed(self.processes):
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def program(name: str) -> str:
    """The project's command installed next to this Python (the venv's bin), else on PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if not found:
        raise DemoError(f"{name} not found next to {sys.executable} or on PATH; install the project")
    return found


def wait_for(what: str, ready: Callable[[], bool], demo: Demo, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        demo.check_running()
        if time.monotonic() > deadline:
            raise DemoError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.2)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:
        return False


# --- the steps --------------------------------------------------------------------------------------------

def start_server(demo: Demo) -> None:
    """dealer: the server's CA and database (SQLite), then the server with its worker"""
    demo.run("fleetmeter-server", "init")
    demo.start("server", "fleetmeter-server", "serve", "--port", str(demo.port), "--log-level", "warning")
    wait_for("the server", lambda: answers(f"{demo.url}/openapi.json"), demo)


def create_client(demo: Demo) -> None:
    """dealer: the client with two sites, an agent key per site, the credentials its printers answer to"""
    demo.run("fleetmeter-server", "clients", "add", CLIENT, "--prefix", "DEMO", "--currency", "EUR")
    for site in SITES:
        demo.run("fleetmeter-server", "sites", "add", CLIENT, site.title())
        answer = demo.run("fleetmeter-server", "agents", "add", f"demo-{site}", "--client", CLIENT, "--site",
                          site.title(), "--json", show=False)
        demo.site_home(site).mkdir(parents=True, exist_ok=True)
        (demo.site_home(site) / "agent-key").write_text(json.loads(answer)["key"])
        print(f"$ fleetmeter-server agents add demo-{site} --client {shlex.quote(CLIENT)} --site {site.title()}"
              "   (key kept for the site's enrolment)")
    demo.run("fleetmeter-server", "config", "set", "--client", CLIENT, "credentials", "-",
             stdin='[{"version": "2c", "community": "public"}]')
    # the agents read meters and supplies every few minutes here (a dealer's default is nightly)
    for key, value in (("schedules.meters", '{"interval": "5m"}'), ("schedules.supplies", '{"interval": "5m"}')):
        demo.run("fleetmeter-server", "config", "set", "--client", CLIENT, key, value)
    policy = demo.home / "policy.json"  # before the history: the worker decides the past with it
    policy.write_text(json.dumps(CLIENT_POLICY))
    print(f"  {policy.name}: {policy.read_text()}")
    demo.run("fleetmeter-server", "policy", "set", "--client", CLIENT, str(policy))


def start_printers(demo: Demo) -> None:
    """site: the simulated printers, carrying on from their simulated history (same serials, counters, toner)"""
    demo.history_start = datetime.now(timezone.utc).date() - timedelta(days=demo.days)
    listing = demo.home / "printers.json"
    demo.start("printers", "fleetmeter-sim", "serve", "--devices", str(demo.devices), "--seed", str(SEED),
               "--base-address", SIM_BASE, "--port", str(demo.snmp_port), "--usage-from",
               demo.history_start.isoformat(), "--list-json", str(listing), "--quiet")
    wait_for("the simulated printers", listing.exists, demo)
    demo.printers = json.loads(listing.read_text())["devices"]
    for site in SITES:
        for p in demo.site_printers(site):
            print(f"  {site}: {p['address']}:{p['port']}  {p['serial']}  {p['model']}")


def enrol_agents(demo: Demo) -> None:
    """site admin: enrol each site's agent (its key pair is made there); dealer: each site's range, remotely"""
    for site in SITES:
        home = demo.site_home(site)
        key = (home / "agent-key").read_text().strip()
        demo.run("fleetmeter-agent", "enroll", "--server", demo.url, "--key", key, home=home)
        (home / "agent-key").unlink()
        printers = demo.site_printers(site)
        span = f"{printers[0]['address']}-{printers[-1]['address'].rsplit('.', 1)[1]}:{demo.snmp_port}"
        demo.run("fleetmeter-server", "config", "set", "--agent", f"demo-{site}", "ranges", json.dumps([span]))


def import_history(demo: Demo) -> None:
    """the past: the printers' simulated history (--days, 90 by default), imported for each site's agent"""
    from fleetmeter_sim.history import write_history

    assert demo.history_start is not None
    history = demo.home / "history.jsonl"
    print(f"  fleetmeter-sim history --devices {demo.devices} --days {demo.days} --seed {SEED} "
          f"--start {demo.history_start}")
    write_history(history, seed=SEED, devices=demo.devices, days=demo.days, start=demo.history_start)
    where = {p["serial"]: p for p in demo.printers}
    lines = [json.loads(line)["reading"] for line in history.read_text().splitlines()]
    for site in SITES:
        serials = {p["serial"] for p in demo.site_printers(site)}
        mine = demo.site_home(site) / "history.jsonl"
        with open(mine, "w", encoding="utf-8") as out:
            for reading in lines:
                printer = where.get(reading["identity"]["serial"])
                if printer and printer["serial"] in serials:  # the address the agent reads it at now
                    reading |= {"address": printer["address"], "port": printer["port"]}
                    out.write(json.dumps(reading) + "\n")
        demo.run("fleetmeter-server", "readings", "import", str(mine), "--agent", f"demo-{site}")
    demo.history_done = datetime.now(timezone.utc)


def accept_printers(demo: Demo) -> None:
    """dealer: accept the printers found (devices to complete become active, billable assets)"""
    demo.run("fleetmeter-server", "devices", "to-complete", "--client", CLIENT)
    found = json.loads(demo.run("fleetmeter-server", "devices", "to-complete", "--client", CLIENT, "--json",
                                show=False))
    ids = [str(d["asset_id"]) for d in found["devices"]]
    if ids:
        demo.run("fleetmeter-server", "devices", "activate", *ids)


def contracts_and_stock(demo: Demo) -> None:
    """dealer: stock and a contract per printer (matched by serial), then jobs for the reorder's requests"""
    from fleetmeter_sim.usage import MODELS, Fleet, part_number

    assert demo.history_start is not None
    profiles = Fleet(SEED, demo.devices, demo.history_start).profiles
    yields = {family: rated for family, _, rated in MODELS}
    stock = {part_number(p.cartridges, colour): (p.cartridges, colour) for p in profiles
             for colour in p.supply_colours()}
    rows = ["part_code,description,colour,class,yield_pages"]
    rows += [f"{part},{family} {colour} toner,{colour},toner,{yields[family][colour]}"
             for part, (family, colour) in sorted(stock.items())]
    (demo.home / "stock.csv").write_text("\n".join(rows) + "\n")
    rows = ["number,serial,status,default_stock_black,default_stock_cyan,default_stock_magenta,default_stock_yellow"]
    for n, p in enumerate(profiles, 1):
        parts = {colour: part_number(p.cartridges, colour) for colour in p.supply_colours()}
        rows.append(",".join([f"DEMO-{n:03d}", p.serial, "active"] + [parts.get(c, "") for c in
                                                                      ("black", "cyan", "magenta", "yellow")]))
    (demo.home / "contracts.csv").write_text("\n".join(rows) + "\n")
    demo.run("fleetmeter-server", "import", "stock", str(demo.home / "stock.csv"))
    demo.run("fleetmeter-server", "import", "contracts", str(demo.home / "contracts.csv"))
    demo.run("fleetmeter-server", "jobs", "sync")  # the reorder's requests become jobs with the contracts' stock


def supply_applied(demo: Demo) -> bool:
    """The supply task started (and finished) after the last history reading was stored."""
    status = json.loads(demo.run("fleetmeter-server", "worker", "status", "--json", show=False))
    task = next(t for t in status["tasks"] if t["task"] == "supply")
    started, finished = task["last_started_at"], task["last_finished_at"]
    assert demo.history_done is not None
    return bool(started and finished and finished >= started
                and datetime.fromisoformat(started.replace("Z", "+00:00")) >= demo.history_done)


def forecasts_and_orders(demo: Demo) -> None:
    """dealer: the worker once: each supply's forecast and replacements, each site's reorder decision"""
    demo.run("fleetmeter-server", "worker", "--once")
    if not supply_applied(demo):  # the server's own worker took the supply task first: wait for its run
        print("  (the server's worker is running the supply task; waiting for it)")
        wait_for("the supply task", lambda: supply_applied(demo), demo, timeout=180)


def bill_last_month(demo: Demo) -> None:
    """dealer: a billing plan from last month (not billed yet) and last month's bill"""
    assert demo.history_start is not None
    period = Period.containing(datetime.now(timezone.utc)).previous()
    if demo.history_start >= period.start.date():  # the opening read is the day before it
        raise DemoError(f"no bill for {period}: the history starts on {demo.history_start}; give --days 62 or more")
    plan = demo.home / "billing-plan.toml"
    plan.write_text(BILLING_PLAN)
    demo.run("fleetmeter-server", "billing", "plan", "set", "--client", CLIENT, str(plan), "--from", str(period))
    demo.bill = json.loads(demo.run("fleetmeter-server", "billing", "run", "--client", CLIENT, "--period",
                                    str(period), "--json", show=False))
    print(f"$ fleetmeter-server billing run --client {shlex.quote(CLIENT)} --period {period}   (stored; see below)")


def start_agents(demo: Demo) -> None:
    """site: each agent service; it applies the range it was given, discovers the printers and reads them"""
    for site in SITES:
        home = demo.site_home(site)
        demo.start(f"agent-{site}", "fleetmeter-agent", "run", "--quiet", home=home)
        sock = home / "agent" / "data" / "control.sock"
        wait_for(f"the {site} agent service", sock.exists, demo)
    for site in SITES:
        for job in ("discovery", "inspection"):
            demo.run("fleetmeter-agent", "scan-now", job, "--wait", "--timeout", "120", home=demo.site_home(site))


DEMO_LOGIN = "dealer@demo.example"


def console_login(demo: Demo) -> None:
    """dealer: a console login (an admin; its random password is printed once)"""
    created = json.loads(demo.run("fleetmeter-server", "users", "add", DEMO_LOGIN, "--role", "admin", "--json",
                                  show=False))
    demo.login = created["password"]
    print(f"$ fleetmeter-server users add {DEMO_LOGIN} --role admin\n  password: {demo.login}")


def show_fleet(demo: Demo) -> None:
    """dealer: what the server holds"""
    demo.run("fleetmeter-server", "agents", "list")
    demo.run("fleetmeter-server", "devices", "list")


def excerpt(text: object) -> str:
    """A value from the server (a printer's or a customer's string) as one safe terminal line."""
    return printable(str(text))


def consolidated_order(orders: list[dict]) -> dict | None:
    """The latest order of more than one line that consolidation placed (a line joined the parcel)."""
    found = [o for o in orders if len(o["lines"]) > 1 and any(ln["reason"] == "consolidated" for ln in o["lines"])]
    return found[-1] if found else None


def what_it_holds(demo: Demo) -> None:
    """what the server holds: a forecast, an order consolidation placed, a consumable job, last month's bill"""
    supplies = json.loads(demo.run("fleetmeter-server", "supplies", "list", "--json", show=False))["supplies"]
    dated = [s for s in supplies if s["empty_on"] and s["empty_on_earliest"] and s["empty_on_latest"]]
    if not dated:
        raise DemoError("no supply has a forecast with an empty date")
    f = dated[0]  # soonest empty first
    print(f"  forecast  {excerpt(f['serial'])} ({excerpt(f['site'])}) supply {excerpt(f['supply'])} "
          f"{excerpt(f['part_number'] or '')}: {f['percent']} %, {f['days_left']} days left, empty {f['empty_on']} "
          f"({f['empty_on_earliest']} .. {f['empty_on_latest']}), method {excerpt(f['method'])}")
    orders = json.loads(demo.run("fleetmeter-server", "orders", "list", "--json", show=False))["orders"]
    order = consolidated_order(orders)
    if order is None:
        raise DemoError("the worker placed no order that consolidation joined lines to")
    shown = json.loads(demo.run("fleetmeter-server", "orders", "show", str(order["id"]), "--json", show=False))
    fired = ", ".join(f"{excerpt(x['device'])}/{excerpt(x['supply'])} {excerpt(x['rule'])}"
                      for x in shown["why"]["fired"])
    joined = ", ".join(f"{excerpt(x['device'])}/{excerpt(x['supply'])}" for x in shown["why"]["consolidated"])
    print(f"  order     #{order['id']} placed {order['placed_at']} ({order['status']}), {len(order['lines'])} lines: "
          f"fired by {fired}; joined by consolidation: {joined}")
    jobs = json.loads(demo.run("fleetmeter-server", "jobs", "list", "--json", show=False))["jobs"]
    if not jobs:
        raise DemoError("jobs sync made no consumable job")
    job = json.loads(demo.run("fleetmeter-server", "jobs", "show", str(jobs[-1]["job"]), "--json", show=False))
    parts = ", ".join(f"{excerpt(ln['supply'])} {excerpt(ln['part_code'] or 'no stock')} ({excerpt(ln['stock_source'] or '-')})"
                      for ln in job["lines"])
    print(f"  job       {job['job']} ({job['status']}) for asset {job['asset_id']} {excerpt(job['serial'])}, contract "
          f"{excerpt(job['contract'] or '-')} (matched by serial): {parts}")
    if demo.bill is not None:
        bill = demo.bill
        print(f"  bill      {bill['period']} for {CLIENT}: total {bill['total']} "
              f"{bill['currency']}, {len(bill['lines'])} lines")
    print(f"  (fleetmeter-server supplies list | orders show {order['id']} | jobs show {job['job']} | "
          "billing run --client ... --period ...)")


def where_to_look(demo: Demo) -> None:
    """what to look at"""
    print(f"""
  console:  {demo.url}/   log in as {DEMO_LOGIN} with the password above: the fleet, a device's supply
            chart with its forecast, supplies due, orders, jobs, billing, agents (revoke, new key)
  server:   {demo.url}   (API docs {demo.url}/docs, metrics {demo.url}/metrics)
  state:    {demo.home}   (logs: server.log, printers.log, agent-north.log, agent-south.log)
  commands: FLEETMETER_HOME={demo.home} fleetmeter-server agents list | devices list | supplies list |
            orders list | jobs list | requests list | alerts list   (the worker refreshes forecasts every minute)
  The agents keep reading the simulated printers every 5 minutes; counters rise and toner falls as they print.""")


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Demo], None]


STEPS: list[Step] = [
    Step("server", start_server),
    Step("client", create_client),
    Step("printers", start_printers),
    Step("agents", enrol_agents),
    Step("history", import_history),
    Step("accept", accept_printers),
    Step("forecasts and orders", forecasts_and_orders),
    Step("contracts and jobs", contracts_and_stock),
    Step("bill", bill_last_month),
    Step("agent services", start_agents),
    Step("console login", console_login),
    Step("fleet", show_fleet),
    Step("what it holds", what_it_holds),
    Step("where to look", where_to_look),
]


def run_steps(demo: Demo, steps: list[Step]) -> None:
    for number, step in enumerate(steps, 1):
        print(f"\n== {number}. {(step.run.__doc__ or step.name).strip()}", flush=True)
        started = time.monotonic()
        step.run(demo)
        demo.check_running()
        print(f"   ({step.name}: {time.monotonic() - started:.1f} s)", flush=True)


def register(sub, common) -> None:
    demo = sub.add_parser("demo", help="run the whole product on this machine (SQLite, loopback) until Ctrl-C")
    demo.add_argument("--once", action="store_true", help="run the chain, print what the server holds, stop")
    demo.add_argument("--home", type=Path, default=Path("var/demo"), help="state directory, made anew (default "
                                                                          "./var/demo)")
    demo.add_argument("--port", type=bounded(1, 65535), default=18443, help="the server's HTTP port")
    demo.add_argument("--snmp-port", type=bounded(1, 65535), default=16199, help="the simulated printers' port")
    demo.add_argument("--devices", type=bounded(2, 250), default=6)
    demo.add_argument("--days", type=bounded(1, 730), default=90, help="days of history before today")
    demo.set_defaults(handler=cmd_demo)


def cmd_demo(args) -> int:
    home = args.home.resolve()
    if home.exists() and not (home / "server").exists() and any(home.iterdir()):
        raise CliError(f"demo: {home} is not empty and holds no demo; give another --home", 2)
    longest = home / f"site-{SITES[0]}" / "agent" / "data" / "control.sock"
    if len(os.fsencode(longest)) > SOCKET_PATH_MAX:
        raise CliError(f"demo: --home {home} is too long for the agents' control sockets ({longest}); "
                       "give a shorter one", 2)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True, mode=0o700)
    demo = Demo(home, args.port, args.snmp_port, args.devices, args.days, args.once)

    def stop(signum, frame):  # SIGTERM like Ctrl-C: leave through the finally below
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        run_steps(demo, STEPS)
        if args.once:
            return 0
        print("\nrunning; Ctrl-C stops the server, the printers and the agents", flush=True)
        while True:
            demo.check_running()
            time.sleep(1)
    except KeyboardInterrupt:
        print("\ndemo: stopping", file=sys.stderr)
        return 0
    except DemoError as exc:
        raise CliError(f"demo: {exc}") from None
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not leave children behind
        demo.stop_all()
