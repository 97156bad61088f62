"""The SQL this backend runs, read from the `.sql` files beside this module.

Each statement lives in its own file under `queries/` (one operation per file) and each
schema change in `migrations/NNNN_name.sql`. Files are read on first use, not at import.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

from eventbook._sql_files import read_folder

_MIGRATION_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True, slots=True)
class Queries:
    """One attribute per file in `queries/`, named after the file."""

    create_migrations_table: str
    migrations_table_exists: str
    schema_version: str
    record_migration: str
    group_start: str
    stream_version: str
    insert_event: str
    events_by_ids: str
    read_all: str
    read_all_filtered: str
    read_stream_forwards: str
    read_stream_backwards: str
    read_event: str
    head: str
    save_snapshot: str
    load_snapshot: str
    data_version: str
    list_streams: str
    events_per_type: str
    stream_count: str
    database_size: str
    stream_marks: str
    save_marks: str
    forget_marks: str
    reopen_stream: str
    remove_events: str
    remove_snapshots: str
    newest_snapshot: str
    retained_streams: str


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    script: str


@functools.cache
def queries() -> Queries:
    return Queries(**read_folder(__package__))


@functools.cache
def migrations() -> tuple[Migration, ...]:
    """The schema migrations in version order; versions are 1, 2, 3, ... without gaps."""
    folder = resources.files(__package__).joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match is not None:
            script = entry.read_text(encoding="utf-8")
            found.append(Migration(int(match.group(1)), match.group(2), script))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"SQLite migrations are not numbered 1..n: {[m.version for m in found]}")
    return tuple(found)


INSERT_CHUNKS = (64, 32, 16, 8, 4, 2, 1)
"""Row counts of the multi-row inserts: few distinct statements for the statement cache."""


@functools.cache
def insert_events(rows: int) -> str:
    """`insert_event` for `rows` rows in one statement (one step, see appends.py)."""
    statement = queries().insert_event
    head, values = statement.split("VALUES", 1)
    return f"{head}VALUES {', '.join([values.strip()] * rows)}"


def split_script(script: str) -> list[str]:
    """Split a migration script into complete statements (`executescript` would commit)."""
    import sqlite3

    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statement = pending.strip()
            if _has_code(statement):
                statements.append(statement)
            pending = ""
    if _has_code(pending):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {pending!r}")
    return statements


def _has_code(text: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in text.splitlines())
