"""The package's import structure: every module imports alone, and nothing cycles.

- Each module is imported first thing in a fresh interpreter, so a module that only
  works when something else was imported before it fails here.
- The graph of module-level imports between eventbook's modules has no cycle.
- Imports inside functions are kept for what they are for (loading an optional driver's
  backend only when it is used, lazy public names), never to dodge a cycle.
"""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import eventbook

PACKAGE = Path(eventbook.__file__).parent

LAZY_IMPORTS_ALLOWED = {
    # module: why its functions import eventbook modules
    "eventbook._connect": "a backend (and its driver) loads only when a URL asks for it",
    "eventbook.projections": "driver-backed public names load on first use (PEP 562)",
    "eventbook.projections._open": "a projection database loads only when a URL asks for it",
    "eventbook.projections._inline": "the PostgreSQL writes (and asyncpg) load only when used",
    "eventbook.projections.cli": "the observability extra loads only when a port or OTEL_* asks",
    "eventbook.projections._outages": "asyncpg's failures are sorted only once asyncpg raised one",
    "eventbook.personal": "the names that need `cryptography` load on first use (PEP 562)",
    "eventbook.personal._open": "a key store (and its driver) loads only when a URL asks for it",
    "eventbook.testing": "the conformance suites need pytest; specifications do not",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
IMPORTABLE = [name for name in MODULES if not name.endswith(".__main__")]  # those run


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    def import_alone(name: str) -> tuple[str, str] | None:
        done = subprocess.run(
            [sys.executable, "-c", f"import {name}"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return None if done.returncode == 0 else (name, done.stderr.strip().splitlines()[-1])

    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [failed for failed in pool.map(import_alone, IMPORTABLE) if failed]
    assert failures == []


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(tree: ast.Module) -> set[str]:
    """The eventbook modules a module imports when it is imported."""
    found: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If):
            if not _is_type_checking(node):
                pending.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            pending.extend(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                pending.extend(handler.body)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "eventbook":
                # `from eventbook.x import y` may name the submodule eventbook.x.y, which
                # needs no more of eventbook.x than its parents always do
                named = {f"{node.module}.{alias.name}" for alias in node.names}
                submodules = named & MODULES.keys()
                found.update(submodules)
                if submodules != named:
                    found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "eventbook")
    return found & MODULES.keys()


def test_module_level_imports_have_no_cycle() -> None:
    graph = {
        name: _module_level_imports(ast.parse(path.read_text())) - {name}
        for name, path in MODULES.items()
    }
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as cycle:
        raise AssertionError(f"import cycle: {' -> '.join(cycle.args[1])}") from None


def test_imports_inside_functions_are_only_lazy_loads() -> None:
    found = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.ImportFrom)
                    and (inner.module or "").split(".")[0] == "eventbook"
                    and name not in LAZY_IMPORTS_ALLOWED
                ):
                    found.append(f"{name}:{inner.lineno} ({node.name}) imports {inner.module}")
    assert found == []
