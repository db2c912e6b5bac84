"""The agent's packages import one another in one direction only (printer model <- transports <- jobs).

Every `import` in agent/ (module level or inside a function) is an edge between the packages it joins
(agent.snmp, agent.network, agent.printer, ... ; a top-level module is its own node). A cycle between
two of them means neither can be understood or changed without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import agent

ROOT = Path(agent.__file__).parent


def _node(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        module = ".".join(("agent", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")
        here = _node(module)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name.startswith("agent.") and _node(name) != here and _is_module(name):
                    edges.setdefault(here, set()).add(_node(name))
    return edges


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split(".")[1:])
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    found = []

    def visit(node: str, trail: list[str]) -> None:
        for nxt in sorted(edges.get(node, ())):
            if nxt == trail[0]:
                found.append(trail + [nxt])
            elif nxt not in trail and nxt > trail[0]:  # each cycle once, from its smallest node
                visit(nxt, trail + [nxt])

    for start in sorted(edges):
        visit(start, [start])
    return found


def test_no_import_cycle_between_agent_packages():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_cycle_check_sees_a_cycle():
    assert _cycles({"agent.a": {"agent.b"}, "agent.b": {"agent.c"}, "agent.c": {"agent.a"}}) == \
        [["agent.a", "agent.b", "agent.c", "agent.a"]]


def test_the_printer_model_imports_no_transport():
    edges = _graph()
    assert edges.get("agent.printer", set()) <= {"agent.errors", "agent.mibs", "agent.home"}, edges["agent.printer"]
