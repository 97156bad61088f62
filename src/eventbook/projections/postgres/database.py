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
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID

import asyncpg

from eventbook._errors import (
    ModeMismatch,
    PartitionMismatch,
    ProjectionError,
    UnknownProjection,
    ValidationError,
)
from eventbook._sql_files import render
from eventbook._store.signal import Wakeup
from eventbook.projections._placeholders import numbered
from eventbook.projections._ports import CheckpointRow, ParkedEvent, ParkedStatus, Row
from eventbook.projections._rows import checkpoint_row, parked_row
from eventbook.projections.postgres.connection import Connection, Pool, lock_key
from eventbook.projections.postgres.session import PostgresSession
from eventbook.projections.postgres.sql import queries


class PostgresDatabase:
    """Projection checkpoints (and same-database read models) in one PostgreSQL schema."""

    dialect = "postgresql"
    read_ahead = True
    """The next page is fetched while the server commits the batch (measured: up to 2x)."""

    def __init__(self, dsn: str, *, schema: str = "public", pool_size: int = 4) -> None:
        if not schema.replace("_", "a").isalnum() or not schema[:1].isalpha():
            raise ValidationError(f"schema must be a plain identifier, not {schema!r}")
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise ValidationError(f"pool_size must be an int of at least 1, not {pool_size!r}")
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
        q = queries()
        conn = await asyncpg.connect(self.dsn)
        try:
            async with conn.transaction():
                await conn.execute(q.lock_in_transaction, lock_key(f"setup:{self.schema}"))
                await conn.execute(render(q.create_schema, self.schema))
                await conn.execute(render(q.use_schema, self.schema))
                for statement in (
                    q.create_checkpoints,
                    q.create_parked,
                    q.create_parked_status,
                    q.create_members,
                    q.migrate_partitions,  # tables set up before partitions gain the key
                ):
                    await conn.execute(statement)
        finally:
            await conn.close()

    async def _in_transaction(self, name: str, work: Callable[[Any], Awaitable[None]]) -> None:
        pool = await self.pool()
        async with pool.acquire() as conn, conn.transaction():
            # One writer per projection name at a time: registering and activating
            # builds of a name must see each other.
            await conn.execute(
                queries().lock_in_transaction, lock_key(f"name:{self.schema}:{name}")
            )
            await work(conn)

    async def register(
        self,
        name: str,
        version: int,
        mode: str,
        create: Sequence[str],
        activate: Sequence[str],
        *,
        partitions: int = 1,
    ) -> None:
        q = queries()

        async def work(conn: Connection) -> None:
            row = await conn.fetchrow(q.build_mode, name, version)
            if row is not None:
                if row[0] != mode:
                    raise ModeMismatch(name, version, row[0], mode)
                registered = len(await conn.fetch(q.build_partitions, name, version))
                if registered != partitions:
                    raise PartitionMismatch(name, version, registered, partitions)
                return
            now = time.time()
            await conn.executemany(
                q.insert_build, [(name, version, mode, now, p) for p in range(partitions)]
            )
            for statement in create:
                await conn.execute(statement)
            if await conn.fetchval(q.active_build, name) is None:
                await conn.execute(q.mark_active, name, version)
                for statement in activate:
                    await conn.execute(statement)

        await self._in_transaction(name, work)

    async def acquire(
        self, name: str, version: int, owner: str, ttl: float, *, partition: int = 0
    ) -> PostgresSession | None:
        q = queries()
        # Partition 0 keeps the key unpartitioned builds always had.
        suffix = f"#{partition}" if partition else ""
        key = lock_key(f"projection:{self.schema}:{name}@{version}{suffix}")
        conn = await self.connect()
        try:
            if not await conn.fetchval(q.try_lock, key):
                await conn.close()
                return None
            until = time.time() + ttl
            epoch = await conn.fetchval(q.take_lease, name, version, owner, until, partition)
            if epoch is None:
                known = await conn.fetchval(q.build_exists, name, version)
                await conn.close()
                if known is None:
                    raise UnknownProjection(f"{name}@v{version}")
                return None  # retired
        except BaseException:
            conn.terminate()
            raise
        return PostgresSession(
            conn, name, version, owner=owner, epoch=int(epoch), ttl=ttl, partition=partition
        )

    async def session(self, name: str, version: int, *, partition: int = 0) -> PostgresSession:
        conn = await self.connect()
        return PostgresSession(
            conn, name, version, owner=None, epoch=0, ttl=0.0, partition=partition
        )

    async def checkpoint(
        self, name: str, version: int, *, partition: int = 0
    ) -> CheckpointRow | None:
        rows = await self._fetch(queries().checkpoint, name, version, partition)
        return checkpoint_row(rows[0]) if rows else None

    async def partitions(self, name: str, version: int) -> list[CheckpointRow]:
        rows = await self._fetch(queries().build_partitions, name, version)
        return [checkpoint_row(row) for row in rows]

    async def heartbeat(self, name: str, version: int, owner: str, ttl: float) -> int:
        q = queries()
        pool = await self.pool()
        async with pool.acquire() as conn, conn.transaction():
            now = time.time()
            await conn.execute(q.forget_members, name, version, now)
            await conn.execute(q.heartbeat, name, version, owner, now + ttl)
            return int(await conn.fetchval(q.live_members, name, version, now))

    async def leave(self, name: str, version: int, owner: str) -> None:
        pool = await self.pool()
        await pool.execute(queries().leave, name, version, owner)

    async def checkpoints(self) -> list[CheckpointRow]:
        return [checkpoint_row(row) for row in await self._fetch(queries().checkpoints)]

    async def parked(self, name: str, version: int) -> list[ParkedEvent]:
        return [parked_row(row) for row in await self._fetch(queries().parked, name, version)]

    async def parked_summary(self, name: str, version: int) -> tuple[int, bool]:
        (row,) = await self._fetch(queries().parked_summary, name, version)
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
        q = queries()
        pool = await self.pool()
        key = (name, version, str(event_id))
        if status is not None:
            done = await pool.execute(q.set_parked_status, *key, status.value)
        else:
            done = await pool.execute(q.count_parked_attempt, *key, error)
        return done == "UPDATE 1"

    async def delete_parked(self, name: str, version: int, event_id: UUID) -> bool:
        pool = await self.pool()
        done = await pool.execute(queries().delete_parked, name, version, str(event_id))
        return done == "DELETE 1"

    async def reset(
        self, name: str, version: int, ddl: Sequence[str], activate: Sequence[str]
    ) -> None:
        q = queries()

        async def work(conn: Connection) -> None:
            # The build's tables first, then its checkpoint row: the order a runner's batch
            # takes them in (writes, then the checkpoint), so that the two wait for each
            # other instead of deadlocking. A runner's batch in flight commits first; its
            # next one then fails on the new epoch.
            for statement in ddl:
                await conn.execute(statement)
            if await conn.execute(q.reset_build, name, version, time.time()) == "UPDATE 0":
                raise UnknownProjection(f"{name}@v{version}")  # rolls the tables back too
            await conn.execute(q.delete_build_parked, name, version)
            flags = await conn.fetchrow(q.build_flags, name, version)
            if flags is not None and flags[0]:
                for statement in activate:
                    await conn.execute(statement)

        await self._in_transaction(name, work)

    async def activate(self, name: str, version: int, ddl: Sequence[str]) -> None:
        q = queries()

        async def work(conn: Connection) -> None:
            flags = await conn.fetchrow(q.build_flags, name, version)
            if flags is None:
                raise UnknownProjection(f"{name}@v{version}")
            if flags[1]:
                raise ProjectionError(f"{name}@v{version} is retired and cannot be activated")
            await conn.execute(q.switch_active, name, version)
            await conn.execute(q.retire_older, name, version)
            for statement in ddl:
                await conn.execute(statement)

        await self._in_transaction(name, work)

    async def drop(self, name: str, version: int, ddl: Sequence[str]) -> None:
        q = queries()

        async def work(conn: Connection) -> None:
            flags = await conn.fetchrow(q.build_flags, name, version)
            if flags is not None and flags[0]:
                raise ProjectionError(
                    f"{name}@v{version} is the active build; activate another one first"
                )
            for statement in ddl:  # tables before the checkpoint row, as in `reset`
                await conn.execute(statement)
            await conn.execute(q.delete_build, name, version)
            await conn.execute(q.delete_build_parked, name, version)
            await conn.execute(q.delete_build_members, name, version)

        await self._in_transaction(name, work)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a read query; `?` placeholders are numbered for PostgreSQL (see
        `eventbook.projections._placeholders`)."""
        return await self._fetch(numbered(sql), *params)

    async def _fetch(self, sql: str, *params: Any) -> list[Row]:
        pool = await self.pool()
        return list(await pool.fetch(sql, *params))

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
