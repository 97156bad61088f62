"""One runner's hold on one projection build in SQLite: its connection and lease.

Everything a batch does — buffered writes, the checkpoint compare-and-set, dead letters —
runs in one trip to the session's connection thread, in one transaction.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventbook._errors import LeaseLost, ProjectionError, UnknownProjection
from eventbook.projections._buffer import WriteBuffer
from eventbook.projections._ports import CheckpointMove, CheckpointRow, ParkedEvent, Row
from eventbook.projections._rows import parked_row, parked_values
from eventbook.projections.sqlite.connection import Connection, Worker, flush
from eventbook.projections.sqlite.sql import queries

if TYPE_CHECKING:
    from eventbook.projections.sqlite.database import SQLiteDatabase


class SQLiteSession:
    """One runner's connection and lease (`owner is None`: unleased, for operator work)."""

    dialect = "sqlite"

    def __init__(
        self,
        database: SQLiteDatabase,
        worker: Worker,
        name: str,
        version: int,
        *,
        owner: str | None,
        epoch: int,
        ttl: float,
        partition: int = 0,
    ) -> None:
        self.database = database
        self.name = name
        self.version = version
        self.owner = owner
        self.epoch = epoch
        self._worker = worker
        self._ttl = ttl
        self.partition = partition
        self._label = f"{name}@v{version}" + (f"#{partition}" if partition else "")
        self._lease = (name, version, owner, epoch, partition)

    async def load(self) -> CheckpointRow:
        row = await self.database.checkpoint(self.name, self.version, partition=self.partition)
        if row is None:
            raise UnknownProjection(self._label)
        return row

    async def fetch(self, writes: WriteBuffer, sql: str, params: Sequence[Any]) -> list[Row]:
        groups = writes.take()

        def work(conn: Connection) -> list[Row]:
            if not conn.in_transaction:
                conn.execute("BEGIN IMMEDIATE")
            flush(conn, groups)
            return conn.execute(sql, params).fetchall()

        return await self._worker.run(work)

    async def commit(
        self,
        writes: WriteBuffer | None,
        move: CheckpointMove | None,
        *,
        park: ParkedEvent | None = None,
        unpark: UUID | None = None,
    ) -> None:
        groups = writes.take() if writes is not None else []
        q = queries()

        def work(conn: Connection) -> None:
            if not conn.in_transaction:
                conn.execute("BEGIN IMMEDIATE")
            try:
                flush(conn, groups)
                self._check_and_move(conn, move)
                if park is not None:
                    conn.execute(q.park, parked_values(park))
                    build = (self.name, self.version, self.partition)
                    conn.execute(q.note_parked_error, (park.error, park.parked_at, *build))
                if unpark is not None:
                    conn.execute(q.delete_parked, (self.name, self.version, str(unpark)))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        await self._worker.run(work)

    def _check_and_move(self, conn: Connection, move: CheckpointMove | None) -> None:
        if self.owner is None:
            if move is not None:
                raise ProjectionError("only a leased session may move a checkpoint")
            return
        now = time.time()
        lease = self._lease
        if move is None:
            cursor = conn.execute(queries().renew_lease, (now + self._ttl, *lease))
        else:
            expected = None if move.expected is None else str(move.expected)
            cursor = conn.execute(
                queries().move_checkpoint,
                (str(move.new), now, now + self._ttl, *lease, expected),
            )
        if cursor.rowcount != 1:
            raise LeaseLost(self._label)

    async def rollback(self) -> None:
        def work(conn: Connection) -> None:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

        await self._worker.run(work)

    async def renew(self) -> None:
        await self._worker.run(lambda conn: self._check_and_move(conn, None))

    async def record_error(self, error: str) -> None:
        def work(conn: Connection) -> None:
            lease = self._lease
            if conn.execute(queries().record_error, (error, time.time(), *lease)).rowcount != 1:
                raise LeaseLost(self._label)

        if self.owner is not None:
            await self._worker.run(work)

    async def halted(self) -> ParkedEvent | None:
        build = (self.name, self.version, self.partition)
        rows = await self._worker.run(lambda conn: conn.execute(queries().halted, build).fetchall())
        return parked_row(rows[0]) if rows else None

    async def release(self) -> None:
        def work(conn: Connection) -> None:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if self.owner is not None:
                conn.execute(queries().release_lease, self._lease)

        try:
            await self._worker.run(work)
        finally:
            await self._worker.close()
