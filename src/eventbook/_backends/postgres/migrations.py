"""Schema migrations owned by the library: versioned SQL files applied in order.

`migrations/NNNN_name.sql` are applied once each, in one transaction, under an advisory
lock, so two processes opening a new schema at the same moment apply them once. The
ledger `schema_migrations` records each version with a checksum of its file; a schema
that is newer than this code, or whose applied files differ from ours, is refused.
"""

from __future__ import annotations

import functools
import hashlib
import re
import zlib
from importlib import resources
from typing import TYPE_CHECKING, NamedTuple

from eventbook._backends.postgres.sql import Queries
from eventbook._errors import SchemaVersionError
from eventbook._sql_files import quote_ident, render

if TYPE_CHECKING:
    from eventbook._backends.postgres.direct import Direct

_FILE_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")
_LOCK_CLASS = 0x45424B  # "EBK": keeps eventbook's advisory locks apart from others'


class Migration(NamedTuple):
    version: int
    name: str
    template: str
    checksum: str


@functools.cache
def known_migrations() -> tuple[Migration, ...]:
    """The migrations shipped with this code, by version (1, 2, ... without gaps)."""
    folder = resources.files(__package__).joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if match is None:
            continue
        text = entry.read_text(encoding="utf-8")
        checksum = hashlib.sha256(text.encode()).hexdigest()
        found.append(Migration(int(match.group(1)), match.group(2), text, checksum))
    found.sort()
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"eventbook's migrations are not numbered 1..n: {found}")
    return tuple(found)


def latest_version() -> int:
    return len(known_migrations())


async def migrate(connection: Direct, schema: str) -> list[int]:
    """Bring `schema` up to date; the versions applied now (empty when none were due)."""
    queries = Queries(schema)
    async with connection.transaction():
        await connection.execute(queries.migration_no_timeout)
        await connection.execute(queries.migration_lock, _LOCK_CLASS, _lock_key(schema))
        await connection.execute(queries.migration_setup)
        applied = await _ledger(connection, queries)
        _refuse_unknown(schema, applied)
        due = [m for m in known_migrations() if m.version not in applied]
        for migration in due:
            await connection.execute(render(migration.template, schema))
            await connection.execute(
                queries.migration_record, migration.version, migration.name, migration.checksum
            )
    return [m.version for m in due]


async def check(connection: Direct, schema: str) -> None:
    """Refuse a schema that is not exactly at this code's version (without changing it)."""
    queries = Queries(schema)
    ledger = f"{quote_ident(schema)}.schema_migrations"
    exists = await connection.fetchval(queries.migration_ledger_exists, ledger)
    applied = await _ledger(connection, queries) if exists else {}
    _refuse_unknown(schema, applied)
    missing = [m.version for m in known_migrations() if m.version not in applied]
    if missing:
        raise SchemaVersionError(
            f"schema {schema!r} lacks migration(s) {missing} of this eventbook (it is at"
            f" version {max(applied, default=0)}, the code needs {latest_version()});"
            " open the store with migrate=True or call PostgresEventStore.migrate(url)"
        )


async def _ledger(connection: Direct, queries: Queries) -> dict[int, tuple[str, str]]:
    rows = await connection.fetch(queries.migration_ledger)
    return {row[0]: (row[1], row[2]) for row in rows}


def _refuse_unknown(schema: str, applied: dict[int, tuple[str, str]]) -> None:
    newest = max(applied, default=0)
    if newest > latest_version():
        raise SchemaVersionError(
            f"schema {schema!r} is at version {newest}, newer than this eventbook understands"
            f" (up to {latest_version()}); upgrade eventbook before using this database"
        )
    for migration in known_migrations():
        stored = applied.get(migration.version)
        if stored is not None and stored[1] != migration.checksum:
            raise SchemaVersionError(
                f"schema {schema!r}: migration {migration.version} ({stored[0]}) was applied"
                " from a different file than this eventbook ships; the schema and the code"
                " do not match"
            )


def _lock_key(schema: str) -> int:
    unsigned = zlib.crc32(schema.encode())
    return unsigned - (1 << 32) if unsigned >= 1 << 31 else unsigned
