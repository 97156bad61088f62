"""The Orders app uses eventbook as any user would: through its public packages only.

Public means `eventbook`, `eventbook.personal`, `eventbook.projections`,
`eventbook.observability` and `eventbook.testing`; every other
module is an implementation detail that may move. The drivers behind the public names
(asyncpg, redis) are imported only when a name that needs them is first used.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import eventbook
import eventbook.projections

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "apps"
PUBLIC = frozenset(
    {
        "eventbook",
        "eventbook.personal",
        "eventbook.projections",
        "eventbook.observability",
        "eventbook.testing",
    }
)


def eventbook_imports(path: Path) -> list[tuple[str, int, str]]:
    """(enclosing function or "", line, module) of each eventbook import in `path`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, int, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, child.name)
                continue
            modules: list[str] = []
            if isinstance(child, ast.Import):
                modules = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                modules = [child.module]
            found.extend(
                (function, child.lineno, m)
                for m in modules
                if m == "eventbook" or m.startswith("eventbook.")
            )
            visit(child, function)

    visit(tree, "")
    return found


def private_imports() -> list[str]:
    """The imports under apps/ of eventbook modules that are not public."""
    offences = []
    for path in sorted(APPS.rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        offences.extend(
            f"{name}:{line} imports {module}"
            for _function, line, module in eventbook_imports(path)
            if module not in PUBLIC
        )
    return offences


def test_the_walk_sees_imports_at_every_depth(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text(
        "import eventbook._store.port\n"
        "from eventbook import connect\n"
        "if True:\n"
        "    from eventbook._write.commands import CommandBus\n"
        "class A:\n"
        "    async def method(self):\n"
        "        import eventbook.projections.postgres as pg\n"
        "from . import eventbook\n"
    )
    assert eventbook_imports(source) == [
        ("", 1, "eventbook._store.port"),
        ("", 2, "eventbook"),
        ("", 4, "eventbook._write.commands"),
        ("method", 7, "eventbook.projections.postgres"),
    ]


def test_apps_import_only_public_eventbook_packages() -> None:
    assert private_imports() == [], "import these names from " + ", ".join(sorted(PUBLIC))


@pytest.mark.parametrize("package", [eventbook, eventbook.projections])
def test_every_public_name_resolves(package: object) -> None:
    names: list[str] = package.__all__  # type: ignore[attr-defined]
    missing = [name for name in names if getattr(package, name, None) is None]
    assert missing == []


def test_importing_the_read_side_imports_no_driver() -> None:
    code = (
        "import sys\n"
        "import eventbook, eventbook.projections\n"
        "before = sorted({'asyncpg', 'redis'} & set(sys.modules))\n"
        "from eventbook.projections import PostgresDatabase, RedisStreamSink, StreamBatch\n"
        "assert PostgresDatabase.__name__ == 'PostgresDatabase'\n"
        "assert RedisStreamSink.__name__ == 'RedisStreamSink'\n"
        "assert StreamBatch.__name__ == 'StreamBatch'\n"
        "print(before, 'asyncpg' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out.split() == ["[]", "True"]  # none before; asyncpg once PostgresDatabase is used


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'PostgresDatabse'"):
        eventbook.projections.PostgresDatabse  # noqa: B018
