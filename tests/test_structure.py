"""The code's structure: no import cycles in the server, no private helpers across modules, the server runs
without the agent's stack, and the contract's shared types behave the same for agent and server."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fleetmeter_contract import durations, ranges
from fleetmeter_contract.config import ConfigError, check_document, check_key

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "server_stub"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) of every `from X import ...` / `import X` in the file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
    return found


def _server_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in SERVER.rglob("*.py") if "migrations" not in p.parts}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for module, names in _imports(path):
            for target in [f"{module}.{n}" for n in names] + [module]:
                if target in modules and target != name:
                    graph[name].add(target)
                    break
    return graph


def test_server_packages_have_no_import_cycles():
    graph = _server_graph()
    assert len(graph) > 20  # the split packages are all seen
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert [" -> ".join(c) for c in cycles] == []


def test_no_private_helper_is_imported_across_modules():
    offenders = [f"{path.relative_to(ROOT)}: {module}.{name}"
                 for path in list(SERVER.rglob("*.py")) + list((ROOT / "fleetmeter_contract").rglob("*.py"))
                 for module, names in _imports(path) if module.startswith(("server_stub", "fleetmeter_contract"))
                 for name in names if name.startswith("_") and not name.startswith("__")]
    assert offenders == []


def test_server_does_not_import_the_agent():
    offenders = [f"{path.relative_to(ROOT)}: {module}" for path in SERVER.rglob("*.py")
                 for module, _ in _imports(path) if module == "agent" or module.startswith("agent.")]
    assert offenders == []


BLOCKED = textwrap.dedent("""
    import sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("agent", "pysnmp", "pysmi", "usb"):
                raise ImportError(f"blocked: {name}")
            return None
    sys.meta_path.insert(0, Block())
""")


def test_server_cli_and_app_serve_without_the_agent_stack(tmp_path):
    script = BLOCKED + textwrap.dedent("""
        import socket, threading, time, urllib.request
        import uvicorn
        from server_stub.cli.main import main
        assert main(["init"]) == 0
        assert main(["worker", "--once"]) == 0
        from server_stub.api.app import create_app
        from server_stub.db.engine import make_engine
        from server_stub.paths import database_url, server_paths
        from server_stub.trust.ca import CertificateAuthority
        paths = server_paths()
        app = create_app(make_engine(database_url(None, paths)), CertificateAuthority.load(paths.ca_dir),
                         run_worker=True)
        sock = socket.socket(); sock.bind(("127.0.0.1", 0)); port = sock.getsockname()[1]; sock.close()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.02)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        print(opener.open(f"http://127.0.0.1:{port}/healthz", timeout=10).read().decode())
        server.should_exit = True
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("agent", "pysnmp", "pysmi", "usb"))
        print("agent modules:", loaded)
    """)
    env = {"FLEETMETER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '{"status":"ok"}' in done.stdout and "agent modules: []" in done.stdout


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-5m", "0", "0s", "1e12d", "1e400", "11000d", "soon", "5 weeks",
                                  True, float("nan"), float("inf"), -1, 10**12])
def test_durations_refuse_what_no_schedule_can_use(text):
    with pytest.raises(durations.DurationError) as refused:
        durations.seconds(text)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("text,expected", [("90s", 90), ("5m", 300), ("1h", 3600), ("7d", 604800), (300, 300),
                                           ("1.5", 1.5), (2.5, 2.5)])
def test_durations_read_the_documented_forms(text, expected):
    assert durations.seconds(text) == expected


def test_one_range_syntax_for_discover_and_the_service():
    # the short form that only `discover` understood before is a valid configured range too
    document = {"ranges": ["10.0.0.10-12", "printer.example:1161", "10.0.1.0/30"], "exclude": ["10.0.0.11"]}
    check_document(document)
    configured = [a for entry in document["ranges"]
                  for a in ranges.expand(entry, ranges.TargetSet.parse(document["exclude"]))]
    assert configured == [("10.0.0.10", 161), ("10.0.0.12", 161), ("printer.example", 1161),
                          ("10.0.1.1", 161), ("10.0.1.2", 161)]
    swept = list(ranges.TargetSet.parse(["10.0.0.10-12"], ["10.0.0.11"]))
    assert swept == ["10.0.0.10", "10.0.0.12"]
    for bad in ("10.0.0.50-10", "10.0.0.0/8", "10.0.0.1:0", "bad host name!"):
        with pytest.raises(ConfigError, match=r"^ranges\[0\]"):
            check_document({"ranges": [bad]})


@pytest.mark.parametrize("key,value,named", [
    ("snmp.timeout", -3, "snmp.timeout"), ("snmp.timeout", 61, "snmp.timeout"),
    ("snmp.concurrency", 0, "snmp.concurrency"), ("snmp.concurrency", 5000, "snmp.concurrency"),
    ("snmp.retries", 11, "snmp.retries"), ("snmp.retries", "2", "snmp.retries"),
    ("outbox.max_mb", 8, "outbox.max_mb"), ("heartbeat", "10s", "heartbeat"), ("heartbeat", float("inf"), "heartbeat"),
    ("schedules.alerts.interval", "30s", "schedules.alerts.interval"),
    ("thresholds.supply_low_percent", float("nan"), "thresholds.supply_low_percent"),
    ("thresholds.supply_low_percent", 101, "thresholds.supply_low_percent"),
    ("snmp.colour", 1, "snmp.colour"), ("usb", "yes", "usb"),
    ("server.disconnected_after", "nan", "server.disconnected_after"),
    ("server.final_alert_after", "400d", "server.final_alert_after"),
])
def test_configuration_refuses_with_one_line_naming_the_key(key, value, named):
    with pytest.raises(ConfigError) as refused:
        check_key(key, value)
    message = str(refused.value)
    assert message.startswith(named + ":") and "\n" not in message
