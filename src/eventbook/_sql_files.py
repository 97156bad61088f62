"""SQL kept one operation per `.sql` file, as every SQL backend and projection database does.

A package keeps its statements in `queries/NAME.sql`; `read_folder` returns them by name,
read once on first use (never at import).
"""

from __future__ import annotations

import functools
from importlib import resources


@functools.cache
def read_folder(package: str, folder: str = "queries") -> dict[str, str]:
    """The `.sql` files of `package`'s `folder`, by file name without the suffix."""
    files = resources.files(package).joinpath(folder)
    return {
        entry.name.removesuffix(".sql"): entry.read_text(encoding="utf-8").strip()
        for entry in files.iterdir()
        if entry.name.endswith(".sql")
    }


def quote_ident(name: str) -> str:
    """`name` as a double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def render(template: str, schema: str) -> str:
    """`template` with `{schema}` replaced by the quoted schema name."""
    return template.replace("{schema}", quote_ident(schema))
