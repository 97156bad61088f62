"""Checkpoints, leases and dead letters in PostgreSQL, with read models beside them.

Each runner holds one connection of its own. Its lease is a session-level advisory
lock on that connection: when the process dies, the server drops the connection and
the lock with it, and a standby runner takes over at once. Taking the lock also bumps
the build's epoch, and every commit compares owner, epoch and expected position, so a
runner that lost its connection's lock can never move the checkpoint.
A batch is BEGIN, one `executemany` per statement group, the checkpoint UPDATE, COMMIT.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from eventbook.errors import ValidationError
from eventbook.projections.errors import ModeMismatch, ProjectionError, UnknownProjection
from eventbook.projections.ports import CheckpointRow, ParkedEvent, ParkedStatus, Row
from eventbook.projections.postgres_connection import (
    WHERE,
    Connection,
    Pool,
    flush,
    lock_key,
)
from eventbook.projections.postgres_session import PostgresSession
from eventbook.projections.schema import (
    CHECKPOINT_COLUMNS,
    CHECKPOINTS,
    PARKED,
    PARKED_COLUMNS,
    PARKED_SUMMARY,
    checkpoint_row,
    create_tables,
    parked_row,
)
from eventbook.wakeup import Wakeup

__all__ = ["PostgresDatabase", "PostgresSession", "flush", "lock_key"]


class PostgresDatabase:
    """Projection checkpoints (and same-database read models) in one PostgreSQL schema."""

    dialect = "postgresql"
    read_ahead = True
    """The next page is fetched while the server commits the batch (measured: up to 2x)."""

    def __init__(self, dsn: str, *, schema: str = "public", pool_size: int = 4) -> None:
        if not schema.replace("_", "a").isalnum() or not schema[:1].isalpha():
            raise ValidationError(f"schema must be a plain identifier, not {schema!r}")
        self.dsn = dsn
        self.schema = schema
        self.pool_size = pool_size
        self.progress = Wakeup()
        self._pool: Pool | None = None

    @classmethod
    async def open(cls, dsn: str, **options: Any) -> PostgresDatabase:
        database = cls(dsn, **options)
        await database.setup()
        return database

    def _settings(self) -> dict[str, str]:
        return {"search_path": self.schema, "application_name": "eventbook:projections"}

    async def connect(self) -> Connection:
        """A new connection with this database's schema as its search path."""
        conn: Connection = await asyncpg.connect(self.dsn, server_settings=self._settings())
        return conn

    async def pool(self) -> Pool:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self.dsn, min_size=1, max_size=self.pool_size, server_settings=self._settings()
            )
        return self._pool

    async def setup(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            async with conn.transaction():
                await conn.execute(
                    "SELECT pg_advisory_xact_lock($1)", lock_key(f"setup:{self.schema}")
                )
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                await conn.execute(f'SET LOCAL search_path = "{self.schema}"')
                for statement in create_tables("postgresql"):
                    await conn.execute(statement)
        finally:
            await conn.close()

    async def _in_transaction(self, name: str, work: Any) -> Any:
        pool = await self.pool()
        async with pool.acquire() as conn, conn.transaction():
            # One writer per projection name at a time: registering and activating
            # builds of a name must see each other.
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1)", lock_key(f"name:{self.schema}:{name}")
            )
            return await work(conn)

    async def register(
        self, name: str, version: int, mode: str, create: Sequence[str], activate: Sequence[str]
    ) -> None:
        async def work(conn: Connection) -> None:
            row = await conn.fetchrow(
                f"SELECT mode FROM {CHECKPOINTS} WHERE {WHERE}", name, version
            )
            if row is not None:
                if row[0] != mode:
                    raise ModeMismatch(name, version, row[0], mode)
                return
            await conn.execute(
                f"INSERT INTO {CHECKPOINTS} (name, version, mode, updated_at)"
                " VALUES ($1, $2, $3, $4)",
                name,
                version,
                mode,
                time.time(),
            )
            for statement in create:
                await conn.execute(statement)
            active = await conn.fetchval(
                f"SELECT 1 FROM {CHECKPOINTS} WHERE name = $1 AND active", name
            )
            if active is None:
                sql = f"UPDATE {CHECKPOINTS} SET active = true WHERE {WHERE}"
                await conn.execute(sql, name, version)
                for statement in activate:
                    await conn.execute(statement)

        await self._in_transaction(name, work)

    async def acquire(
        self, name: str, version: int, owner: str, ttl: float
    ) -> PostgresSession | None:
        key = lock_key(f"projection:{self.schema}:{name}@{version}")
        conn = await self.connect()
        try:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                await conn.close()
                return None
            epoch = await conn.fetchval(
                f"UPDATE {CHECKPOINTS} SET owner = $3, epoch = epoch + 1, lease_until = $4"
                f" WHERE {WHERE} AND NOT retired RETURNING epoch",
                name,
                version,
                owner,
                time.time() + ttl,
            )
            if epoch is None:
                known = await conn.fetchval(
                    f"SELECT 1 FROM {CHECKPOINTS} WHERE {WHERE}", name, version
                )
                await conn.close()
                if known is None:
                    raise UnknownProjection(f"{name}@v{version}")
                return None  # retired
        except BaseException:
            conn.terminate()
            raise
        return PostgresSession(self, conn, name, version, owner=owner, epoch=int(epoch), ttl=ttl)

    async def session(self, name: str, version: int) -> PostgresSession:
        conn = await self.connect()
        return PostgresSession(self, conn, name, version, owner=None, epoch=0, ttl=0.0)

    async def checkpoint(self, name: str, version: int) -> CheckpointRow | None:
        sql = f"SELECT {CHECKPOINT_COLUMNS} FROM {CHECKPOINTS} WHERE {WHERE}"
        rows = await self.fetch(sql, (name, version))
        return checkpoint_row(rows[0]) if rows else None

    async def checkpoints(self) -> list[CheckpointRow]:
        sql = f"SELECT {CHECKPOINT_COLUMNS} FROM {CHECKPOINTS} ORDER BY name, version"
        return [checkpoint_row(row) for row in await self.fetch(sql)]

    async def parked(self, name: str, version: int) -> list[ParkedEvent]:
        sql = f"SELECT {PARKED_COLUMNS} FROM {PARKED} WHERE {WHERE} ORDER BY parked_at"
        return [parked_row(row) for row in await self.fetch(sql, (name, version))]

    async def parked_summary(self, name: str, version: int) -> tuple[int, bool]:
        rows = await self.fetch(
            f"SELECT {PARKED_SUMMARY} FROM {PARKED} WHERE {WHERE}", (name, version)
        )
        (row,) = rows
        return int(row[0]), bool(row[1])

    async def update_parked(
        self,
        name: str,
        version: int,
        event_id: UUID,
        *,
        status: ParkedStatus | None = None,
        error: str | None = None,
    ) -> bool:
        value: str | None
        if status is not None:
            sql, value = f"UPDATE {PARKED} SET status = $4", status.value
        else:
            sql, value = f"UPDATE {PARKED} SET error = $4, attempts = attempts + 1", error
        pool = await self.pool()
        done = await pool.execute(
            f"{sql} WHERE {WHERE} AND event_id = $3", name, version, str(event_id), value
        )
        return done == "UPDATE 1"

    async def delete_parked(self, name: str, version: int, event_id: UUID) -> bool:
        pool = await self.pool()
        sql = f"DELETE FROM {PARKED} WHERE {WHERE} AND event_id = $3"
        return await pool.execute(sql, name, version, str(event_id)) == "DELETE 1"

    async def reset(
        self, name: str, version: int, ddl: Sequence[str], activate: Sequence[str]
    ) -> None:
        async def work(conn: Connection) -> None:
            # The build's tables first, then its checkpoint row: the order a runner's batch
            # takes them in (writes, then the checkpoint), so that the two wait for each
            # other instead of deadlocking. A runner's batch in flight commits first; its
            # next one then fails on the new epoch.
            for statement in ddl:
                await conn.execute(statement)
            done = await conn.execute(
                f"UPDATE {CHECKPOINTS} SET position = NULL, epoch = epoch + 1, owner = NULL,"
                " lease_until = 0, last_error = NULL, last_error_at = NULL, updated_at = $3"
                f" WHERE {WHERE}",
                name,
                version,
                time.time(),
            )
            if done != "UPDATE 1":
                raise UnknownProjection(f"{name}@v{version}")  # rolls the tables back too
            await conn.execute(f"DELETE FROM {PARKED} WHERE {WHERE}", name, version)
            sql = f"SELECT active FROM {CHECKPOINTS} WHERE {WHERE}"
            if await conn.fetchval(sql, name, version):
                for statement in activate:
                    await conn.execute(statement)

        await self._in_transaction(name, work)

    async def activate(self, name: str, version: int, ddl: Sequence[str]) -> None:
        async def work(conn: Connection) -> None:
            retired = await conn.fetchval(
                f"SELECT retired FROM {CHECKPOINTS} WHERE {WHERE}", name, version
            )
            if retired is None:
                raise UnknownProjection(f"{name}@v{version}")
            if retired:
                raise ProjectionError(f"{name}@v{version} is retired and cannot be activated")
            await conn.execute(
                f"UPDATE {CHECKPOINTS} SET active = (version = $2) WHERE name = $1", name, version
            )
            # Older builds are done: fence their runners so they stop writing.
            await conn.execute(
                f"UPDATE {CHECKPOINTS} SET retired = true, epoch = epoch + 1, owner = NULL,"
                " lease_until = 0 WHERE name = $1 AND version < $2 AND NOT retired",
                name,
                version,
            )
            for statement in ddl:
                await conn.execute(statement)

        await self._in_transaction(name, work)

    async def drop(self, name: str, version: int, ddl: Sequence[str]) -> None:
        async def work(conn: Connection) -> None:
            active = await conn.fetchval(
                f"SELECT active FROM {CHECKPOINTS} WHERE {WHERE}", name, version
            )
            if active:
                raise ProjectionError(
                    f"{name}@v{version} is the active build; activate another one first"
                )
            for statement in ddl:  # tables before the checkpoint row, as in `reset`
                await conn.execute(statement)
            await conn.execute(f"DELETE FROM {CHECKPOINTS} WHERE {WHERE}", name, version)
            await conn.execute(f"DELETE FROM {PARKED} WHERE {WHERE}", name, version)

        await self._in_transaction(name, work)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        pool = await self.pool()
        return list(await pool.fetch(sql, *params))

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
