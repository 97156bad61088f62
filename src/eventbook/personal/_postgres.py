"""Data keys in the PostgreSQL store's own schema: the `personal_keys` table."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import asyncpg

from eventbook._backends.postgres.migrations import Migration, known_migrations
from eventbook._backends.postgres.options import parse_url
from eventbook._errors import UnavailableError
from eventbook._sql_files import quote_ident, render
from eventbook.personal._keys import StoredKey

KEY_TABLE_MIGRATION = "personal_keys"
"""The name of the store's migration that makes the key table (IF NOT EXISTS: run here as
well, for a schema that holds no events, such as the read models beside a NATS
store)."""


class PostgresKeyStore:
    """Keys beside the events, in the store's schema (the store's migration 3).

    A small pool of its own: key lookups are rare (the `Keyring` caches).
    """

    def __init__(self, pool: Any, table: str) -> None:
        self._pool = pool
        self._table = table

    @classmethod
    async def open(cls, url: str) -> PostgresKeyStore:
        dsn, options = parse_url(url, {})
        table = f"{quote_ident(options.schema)}.personal_keys"
        try:
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        except (OSError, asyncpg.PostgresError) as exc:
            raise UnavailableError(f"cannot reach PostgreSQL for the key table: {exc}") from exc
        store = cls(pool, table)
        if not await pool.fetchval("SELECT to_regclass($1) IS NOT NULL", table):
            create = render(_key_table_migration().template, options.schema)
            try:
                await store._call(
                    "execute", f"CREATE SCHEMA IF NOT EXISTS {quote_ident(options.schema)}"
                )
                await store._call("execute", create)
            except BaseException:
                await pool.close()
                raise
        return store

    async def fetch(self, subjects: Collection[str]) -> dict[str, StoredKey]:
        rows = await self._call(
            "fetch",
            f"SELECT subject, wrapped, master FROM {self._table} WHERE subject = ANY($1::text[])",
            list(subjects),
        )
        return {row[0]: StoredKey(row[1], row[2]) for row in rows}

    async def add(self, subject: str, key: StoredKey) -> StoredKey:
        row = await self._call(
            "fetchrow",
            f"WITH added AS (INSERT INTO {self._table} (subject, wrapped, master)"
            " VALUES ($1, $2, $3) ON CONFLICT (subject) DO NOTHING RETURNING wrapped, master)"
            f" SELECT wrapped, master FROM added UNION ALL"
            f" SELECT wrapped, master FROM {self._table} WHERE subject = $1 LIMIT 1",
            subject,
            key.wrapped,
            key.master,
        )
        return StoredKey(row[0], row[1])

    async def forget(self, subject: str) -> bool:
        had = await self._call(
            "fetchval",
            f"WITH old AS (SELECT wrapped FROM {self._table} WHERE subject = $1 FOR UPDATE),"
            f" done AS (INSERT INTO {self._table} (subject, wrapped, master, forgotten_at)"
            " VALUES ($1, NULL, '', now()) ON CONFLICT (subject) DO UPDATE"
            " SET wrapped = NULL, forgotten_at = now())"
            " SELECT EXISTS (SELECT 1 FROM old WHERE wrapped IS NOT NULL)",
            subject,
        )
        return bool(had)

    async def close(self) -> None:
        await self._pool.close()

    async def _call(self, method: str, query: str, *args: Any) -> Any:
        try:
            return await getattr(self._pool, method)(query, *args)
        except (OSError, asyncpg.PostgresError) as exc:
            raise UnavailableError(f"the key table {self._table}: {exc}") from exc


def _key_table_migration() -> Migration:
    """The store's migration that makes the key table, found by name (not by number:
    migrations of other features may come before it)."""
    return next(m for m in known_migrations() if m.name == KEY_TABLE_MIGRATION)
