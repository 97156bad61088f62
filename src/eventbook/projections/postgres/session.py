"""One runner's hold on one projection build in PostgreSQL: its connection and lock.

The session-level advisory lock on the connection is the lease; a batch is BEGIN, one
`executemany` per statement group, the checkpoint compare-and-set, COMMIT.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg

from eventbook._errors import LeaseLost, ProjectionError, UnknownProjection
from eventbook.projections._buffer import WriteBuffer
from eventbook.projections._ports import CheckpointMove, CheckpointRow, ParkedEvent, Row
from eventbook.projections._rows import checkpoint_row, parked_row, parked_values
from eventbook.projections.postgres.connection import Connection, flush
from eventbook.projections.postgres.sql import queries

if TYPE_CHECKING:
    from asyncpg.transaction import Transaction


class PostgresSession:
    """One runner's connection and advisory-lock lease (`owner is None`: unleased)."""

    dialect = "postgresql"

    def __init__(
        self,
        conn: Connection,
        name: str,
        version: int,
        *,
        owner: str | None,
        epoch: int,
        ttl: float,
        partition: int = 0,
    ) -> None:
        self.name = name
        self.version = version
        self.owner = owner
        self.epoch = epoch
        self._conn = conn
        self._ttl = ttl
        self._tx: Transaction | None = None
        self.partition = partition
        self._label = f"{name}@v{version}" + (f"#{partition}" if partition else "")

    @property
    def connection(self) -> Connection:
        return self._conn

    async def load(self) -> CheckpointRow:
        row = await self._conn.fetchrow(
            queries().checkpoint, self.name, self.version, self.partition
        )
        if row is None:
            raise UnknownProjection(self._label)
        return checkpoint_row(row)

    async def _begin(self) -> None:
        if self._tx is None:
            self._tx = self._conn.transaction()
            await self._tx.start()

    async def fetch(self, writes: WriteBuffer, sql: str, params: Sequence[Any]) -> list[Row]:
        await self._begin()
        await flush(self._conn, writes.take())
        return list(await self._conn.fetch(sql, *params))

    async def commit(
        self,
        writes: WriteBuffer | None,
        move: CheckpointMove | None,
        *,
        park: ParkedEvent | None = None,
        unpark: UUID | None = None,
    ) -> None:
        groups = writes.take() if writes is not None else []
        await self._begin()
        assert self._tx is not None
        try:
            await flush(self._conn, groups)
            await self._check_and_move(move)
            q = queries()
            if park is not None:
                await self._conn.execute(q.park, *parked_values(park))
                await self._conn.execute(
                    q.note_parked_error,
                    self.name,
                    self.version,
                    park.error,
                    park.parked_at,
                    self.partition,
                )
            if unpark is not None:
                await self._conn.execute(q.delete_parked, self.name, self.version, str(unpark))
            await self._tx.commit()
        except BaseException:
            await self._rollback_quietly()
            raise
        finally:
            self._tx = None

    async def _check_and_move(self, move: CheckpointMove | None) -> None:
        if self.owner is None:
            if move is not None:
                raise ProjectionError("only a leased session may move a checkpoint")
            return
        now = time.time()
        lease = (self.name, self.version, self.owner, self.epoch)
        if move is None:
            done = await self._conn.execute(
                queries().renew_lease, *lease, now + self._ttl, self.partition
            )
        else:
            expected = None if move.expected is None else str(move.expected)
            done = await self._conn.execute(
                queries().move_checkpoint,
                *lease,
                str(move.new),
                now,
                now + self._ttl,
                expected,
                self.partition,
            )
        if done != "UPDATE 1":
            raise LeaseLost(self._label)

    async def _rollback_quietly(self) -> None:
        tx, self._tx = self._tx, None
        if tx is not None and not self._conn.is_closed():
            try:
                await tx.rollback()
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                self._conn.terminate()

    async def rollback(self) -> None:
        await self._rollback_quietly()

    async def renew(self) -> None:
        await self._check_and_move(None)

    async def record_error(self, error: str) -> None:
        if self.owner is None:
            return
        lease = (self.name, self.version, self.owner, self.epoch)
        done = await self._conn.execute(
            queries().record_error, *lease, error, time.time(), self.partition
        )
        if done != "UPDATE 1":
            raise LeaseLost(self._label)

    async def halted(self) -> ParkedEvent | None:
        row = await self._conn.fetchrow(queries().halted, self.name, self.version, self.partition)
        return None if row is None else parked_row(row)

    async def release(self) -> None:
        if self._conn.is_closed():
            return
        try:
            await self._rollback_quietly()
            if self.owner is not None and not self._conn.is_closed():
                lease = (self.name, self.version, self.owner, self.epoch)
                await self._conn.execute(queries().release_lease, *lease, self.partition)
        finally:
            if not self._conn.is_closed():
                await self._conn.close()  # ends the session: the advisory lock goes with it
