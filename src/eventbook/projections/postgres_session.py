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

from eventbook.projections.buffer import WriteBuffer
from eventbook.projections.errors import LeaseLost, ProjectionError, UnknownProjection
from eventbook.projections.ports import CheckpointMove, CheckpointRow, ParkedEvent, Row
from eventbook.projections.postgres_connection import LEASED, WHERE, Connection, flush
from eventbook.projections.schema import (
    CHECKPOINT_COLUMNS,
    CHECKPOINTS,
    PARKED,
    PARKED_COLUMNS,
    checkpoint_row,
    parked_row,
    parked_values,
)

if TYPE_CHECKING:
    from asyncpg.transaction import Transaction

    from eventbook.projections.postgres import PostgresDatabase


class PostgresSession:
    """One runner's connection and advisory-lock lease (`owner is None`: unleased)."""

    dialect = "postgresql"

    def __init__(
        self,
        database: PostgresDatabase,
        conn: Connection,
        name: str,
        version: int,
        *,
        owner: str | None,
        epoch: int,
        ttl: float,
    ) -> None:
        self.database = database
        self.name = name
        self.version = version
        self.owner = owner
        self.epoch = epoch
        self._conn = conn
        self._ttl = ttl
        self._tx: Transaction | None = None
        self._label = f"{name}@v{version}"

    @property
    def connection(self) -> Connection:
        return self._conn

    async def load(self) -> CheckpointRow:
        row = await self._conn.fetchrow(
            f"SELECT {CHECKPOINT_COLUMNS} FROM {CHECKPOINTS} WHERE {WHERE}",
            self.name,
            self.version,
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
            if park is not None:
                await self._conn.execute(
                    f"INSERT INTO {PARKED} ({PARKED_COLUMNS})"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                    " ON CONFLICT (name, version, event_id) DO UPDATE SET error = excluded.error,"
                    " attempts = excluded.attempts, parked_at = excluded.parked_at,"
                    " status = excluded.status",
                    *parked_values(park),
                )
                await self._conn.execute(
                    f"UPDATE {CHECKPOINTS} SET last_error = $3, last_error_at = $4 WHERE {WHERE}",
                    self.name,
                    self.version,
                    park.error,
                    park.parked_at,
                )
            if unpark is not None:
                await self._conn.execute(
                    f"DELETE FROM {PARKED} WHERE {WHERE} AND event_id = $3",
                    self.name,
                    self.version,
                    str(unpark),
                )
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
            sql = f"UPDATE {CHECKPOINTS} SET lease_until = $5 WHERE {LEASED}"
            done = await self._conn.execute(sql, *lease, now + self._ttl)
        else:
            expected = None if move.expected is None else str(move.expected)
            sql = (
                f"UPDATE {CHECKPOINTS} SET position = $5, updated_at = $6, lease_until = $7"
                f" WHERE {LEASED} AND position IS NOT DISTINCT FROM $8"
            )
            done = await self._conn.execute(
                sql, *lease, str(move.new), now, now + self._ttl, expected
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
        done = await self._conn.execute(
            f"UPDATE {CHECKPOINTS} SET last_error = $5, last_error_at = $6 WHERE {LEASED}",
            self.name,
            self.version,
            self.owner,
            self.epoch,
            error,
            time.time(),
        )
        if done != "UPDATE 1":
            raise LeaseLost(self._label)

    async def halted(self) -> ParkedEvent | None:
        row = await self._conn.fetchrow(
            f"SELECT {PARKED_COLUMNS} FROM {PARKED} WHERE {WHERE}"
            " AND status IN ('halted', 'discard') LIMIT 1",
            self.name,
            self.version,
        )
        return None if row is None else parked_row(row)

    async def release(self) -> None:
        if self._conn.is_closed():
            return
        try:
            await self._rollback_quietly()
            if self.owner is not None and not self._conn.is_closed():
                await self._conn.execute(
                    f"UPDATE {CHECKPOINTS} SET owner = NULL, lease_until = 0 WHERE {LEASED}",
                    self.name,
                    self.version,
                    self.owner,
                    self.epoch,
                )
        finally:
            if not self._conn.is_closed():
                await self._conn.close()  # ends the session: the advisory lock goes with it
