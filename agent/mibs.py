"""MIB names for people, never on the poll path: symbols to numeric OIDs and back.

Sources are the project's ``mibs/`` directory and the user's MIB directory (``<config>/mibs``, where a
dealer drops the vendor's MIB files). pysmi compiles a module into the agent's cache directory
(``<cache>/mibs``) the first time it is needed, offline: no MIB is ever downloaded. The standard
modules pysnmp ships compiled (SNMPv2-SMI, SNMPv2-MIB, RFC1213-MIB, ...) need no source.

`MibResolver.oid_of("KYOCERA-MIB::kcprtSerialNumber.1")` returns the numeric OID; a module that is
nowhere to be found is a `MibError` naming the module and the directories searched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pysmi.codegen.pysnmp import PySnmpCodeGen
from pysmi.compiler import MibCompiler
from pysmi.parser.smi import parserFactory
from pysmi.reader import FileReader
from pysmi.searcher import PyFileSearcher, PyPackageSearcher, StubSearcher
from pysmi.writer import PyFileWriter
from pysnmp.smi import builder, view
from pysnmp.smi.error import SmiError

from agent.errors import MibError

PROJECT_MIBS = Path(__file__).resolve().parents[1] / "mibs"
STUBS = Path(__file__).with_name("mib_stubs")  # symbol tables of the modules pysnmp ships compiled
MODULE_FILE = re.compile(r"^(?P<module>[A-Z][A-Za-z0-9-]*?)(?:\.(?:txt|mib|my))?$", re.I)
SYMBOL = re.compile(r"^(?P<module>[A-Za-z][\w-]*)::(?P<name>[A-Za-z][\w-]*)(?P<index>(?:\.\d+)*)$")
NUMERIC = re.compile(r"^\.?\d+(\.\d+)*$")


@dataclass
class MibResolver:
    source_dirs: tuple[Path, ...]
    cache_dir: Path
    _builder: builder.MibBuilder | None = field(default=None, repr=False)
    _view: view.MibViewController | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ symbols -> OIDs
    def oid_of(self, text: str) -> str:
        """A numeric OID as is, or ``MODULE::object[.index]`` resolved through the MIB."""
        text = text.strip()
        if NUMERIC.match(text):
            return text.lstrip(".")
        found = SYMBOL.match(text)
        if not found:
            raise MibError(f"{text!r} is neither a numeric OID nor MODULE::object[.index]")
        module, name, index = found["module"], found["name"], found["index"]
        self.load(module)
        try:
            node, = self._builder.import_symbols(module, name)  # type: ignore[union-attr]
        except SmiError:
            raise MibError(f"MIB module {module} has no object {name}") from None
        return ".".join(str(x) for x in node.getName()) + index

    # ------------------------------------------------------------------ OIDs -> names
    def name_of(self, oid: str) -> str | None:
        """``MODULE::object.index`` for a numeric OID, using every module that is loaded."""
        mib_view = self._mib_view()
        parts = tuple(int(x) for x in oid.strip(".").split("."))
        try:
            module, label, suffix = mib_view.get_node_location(parts)
        except SmiError:
            return None
        if not label or module == "SNMPv2-SMI":  # only the bare tree (enterprises.N...): no real name
            return None
        return f"{module}::{label}" + "".join(f".{x}" for x in suffix)

    def load_all(self) -> list[str]:
        """Compile and load every module found in the source directories; returns their names."""
        files = [p.name for d in self.source_dirs if d.is_dir() for p in d.iterdir() if p.is_file()]
        names = sorted({m["module"] for m in map(MODULE_FILE.match, files) if m and "-" in m["module"]})
        loaded = []
        for name in names:
            try:
                self.load(name)
                loaded.append(name)
            except MibError:
                continue  # a file that is not a MIB module, or one with missing imports: skip it for names
        return loaded

    # ------------------------------------------------------------------ loading
    def load(self, module: str) -> None:
        mib_builder = self._mib_builder()
        if module not in mib_builder.mibSymbols:
            self._compile(module)
            try:
                mib_builder.load_modules(module)
            except SmiError as exc:
                raise MibError(f"MIB module {module} could not be loaded: {exc}") from None
            self._view = None

    def _compile(self, module: str) -> None:
        if (self.cache_dir / f"{module}.py").exists():
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        compiler = MibCompiler(parserFactory()(), PySnmpCodeGen(), PyFileWriter(str(self.cache_dir)))
        compiler.add_sources(*[FileReader(str(d)) for d in (*self.source_dirs, STUBS) if d.is_dir()])
        compiler.add_searchers(PyFileSearcher(str(self.cache_dir)), PyPackageSearcher("pysnmp.smi.mibs"),
                               StubSearcher(*PySnmpCodeGen.baseMibs))
        results = compiler.compile(module)
        status = {name: str(state) for name, state in results.items()}
        if status.get(module) in ("compiled", "untouched"):
            return
        where = " or ".join(str(d) for d in self.source_dirs)
        missing = sorted(name for name, state in status.items() if state == "missing")
        if missing:
            needed = "" if missing == [module] else f" (needed by {module})"
            raise MibError(f"MIB module {', '.join(missing)} not found{needed}; put its source file in {where}")
        broken = sorted(name for name, state in status.items() if state == "failed")
        errors = "; ".join(str(getattr(results[name], "error", "")) for name in broken)
        raise MibError(f"MIB module {', '.join(broken) or module} does not compile: {errors}")

    def _mib_builder(self) -> builder.MibBuilder:
        if self._builder is None:
            self._builder = builder.MibBuilder()
            self._builder.add_mib_sources(builder.DirMibSource(str(self.cache_dir)))
            self._builder.load_modules("SNMPv2-MIB", "RFC1213-MIB")
        return self._builder

    def _mib_view(self) -> view.MibViewController:
        if self._view is None:
            self._view = view.MibViewController(self._mib_builder())
        return self._view


def resolver_for(config_dir: Path, cache_dir: Path) -> MibResolver:
    """The resolver of an agent installation: project MIBs, then the user's MIB directory."""
    return MibResolver((PROJECT_MIBS, config_dir / "mibs"), cache_dir / "mibs")
