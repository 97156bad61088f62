"""The projection-database conformance suite: the `ProjectionDatabase` contract as tests
that the SQLite and PostgreSQL projection databases (and any new one) must pass.

Subclass it in a test module and provide `projection_database`, a fresh database with
`setup()` done (a new file, a new schema, ...)::

    class TestMyDatabase(ProjectionDatabaseConformance):
        @pytest_asyncio.fixture
        async def projection_database(self, tmp_path):
            database = await eventbook.projections.open(f"sqlite:///{tmp_path}/read.db")
            yield database
            await database.close()

Covered: registering builds, checkpoints moved by compare-and-set, leases and their
fencing by epoch, parking (park, retry, discard, halt), resets, switching the active
build and dropping builds; and partitioned builds (`projection_partitions`).
Statements are written with `?` (see `eventbook.projections.open` and the placeholder
convention in docs/projections.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import uuid4

import pytest

from eventbook._store.types import Position
from eventbook.projections import (
    LeaseLost,
    ModeMismatch,
    ParkedEvent,
    ParkedStatus,
    ProjectionDatabase,
    ProjectionError,
    Session,
    UnknownProjection,
)
from eventbook.projections._buffer import WriteBuffer
from eventbook.projections._placeholders import numbered
from eventbook.projections._ports import CheckpointMove
from eventbook.testing.projection_partitions import PartitionConformance

NAME = "conformance"
TABLE = "conformance_rows"


def table_ddl(version: int) -> list[str]:
    return [f"CREATE TABLE {TABLE}_v{version} (n INTEGER NOT NULL)"]


def drop_ddl(database: ProjectionDatabase, version: int) -> list[str]:
    # PostgreSQL: CASCADE drops the readers' view too when it is the active build's (a
    # reset recreates it), as `SqlSink` does.
    cascade = " CASCADE" if database.dialect == "postgresql" else ""
    return [f"DROP TABLE IF EXISTS {TABLE}_v{version}{cascade}"]


def view_ddl(version: int) -> list[str]:
    return [
        f"DROP VIEW IF EXISTS {TABLE}",
        f"CREATE VIEW {TABLE} AS SELECT * FROM {TABLE}_v{version}",
    ]


def at(n: int) -> Position:
    return Position(0, n)


class ProjectionDatabaseConformance(PartitionConformance):
    """The contract every projection database keeps; see the module doc."""

    # -- helpers -------------------------------------------------------------------------------

    async def register(
        self, database: ProjectionDatabase, version: int = 1, mode: str = "async"
    ) -> None:
        await database.register(NAME, version, mode, table_ddl(version), view_ddl(version))

    async def lease(
        self,
        database: ProjectionDatabase,
        owner: str = "first",
        version: int = 1,
        ttl: float = 30.0,
    ) -> Session:
        session = await database.acquire(NAME, version, owner, ttl)
        assert session is not None, f"{owner} could not take the free lease"
        return session

    def writes(self, database: ProjectionDatabase, *values: int, version: int = 1) -> WriteBuffer:
        sql = f"INSERT INTO {TABLE}_v{version} VALUES (?)"
        buffer = WriteBuffer()
        for value in values:
            buffer.add(numbered(sql) if database.dialect == "postgresql" else sql, (value,))
        return buffer

    async def rows(self, database: ProjectionDatabase, version: int = 1) -> list[int]:
        found = await database.fetch(f"SELECT n FROM {TABLE}_v{version} ORDER BY n")
        return [int(row[0]) for row in found]

    def parked_event(
        self, version: int = 1, status: ParkedStatus = ParkedStatus.PARKED
    ) -> ParkedEvent:
        return ParkedEvent(NAME, version, uuid4(), at(3), "s-1", "Happened", "boom", 2, 1.0, status)

    async def park(self, database: ProjectionDatabase, version: int = 1) -> ParkedEvent:
        """Park an event as a lease holder does: in a commit that moves the checkpoint past it."""
        parked = self.parked_event(version)
        session = await self.lease(database, version=version)
        try:
            await session.commit(None, CheckpointMove(None, parked.position), park=parked)
        finally:
            await session.release()
        return parked

    async def release(self, *sessions: Session) -> None:
        for session in sessions:
            await session.release()

    # -- registering ---------------------------------------------------------------------------

    async def test_setup_is_idempotent_and_starts_empty(
        self, projection_database: ProjectionDatabase
    ) -> None:
        await projection_database.setup()
        assert await projection_database.checkpoints() == []
        assert await projection_database.checkpoint(NAME, 1) is None

    async def test_the_first_build_of_a_name_is_active_and_creates_its_tables(
        self, projection_database: ProjectionDatabase
    ) -> None:
        await self.register(projection_database)
        await self.register(projection_database)  # again: nothing runs twice
        await self.register(projection_database, version=2)
        one, two = await projection_database.checkpoints()
        assert (one.version, one.mode, one.position, one.epoch, one.owner) == (
            1,
            "async",
            None,
            0,
            None,
        )
        assert (one.active, one.retired, two.active, two.retired) == (True, False, False, False)
        assert await projection_database.fetch(f"SELECT count(*) FROM {TABLE}") == [(0,)]
        assert await self.rows(projection_database, version=2) == []

    async def test_a_build_keeps_the_mode_it_was_registered_with(
        self, projection_database: ProjectionDatabase
    ) -> None:
        await self.register(projection_database, mode="inline")
        with pytest.raises(ModeMismatch):
            await self.register(projection_database, mode="async")

    # -- checkpoints ---------------------------------------------------------------------------

    async def test_a_commit_writes_and_moves_the_checkpoint_together(
        self, projection_database: ProjectionDatabase
    ) -> None:
        await self.register(projection_database)
        session = await self.lease(projection_database)
        try:
            await session.commit(
                self.writes(projection_database, 1, 2), CheckpointMove(None, at(2))
            )
            await session.commit(self.writes(projection_database, 3), CheckpointMove(at(2), at(5)))
            assert (await session.load()).position == at(5)
        finally:
            await session.release()
        row = await projection_database.checkpoint(NAME, 1)
        assert row is not None
        assert (row.position, row.updated_at is not None) == (at(5), True)
        assert await self.rows(projection_database) == [1, 2, 3]

    async def test_the_checkpoint_moves_only_from_the_expected_position(
        self, projection_database: ProjectionDatabase
    ) -> None:
        await self.register(projection_database)
        session = await self.lease(projection_database)
        try:
            await session.commit(None, CheckpointMove(None, at(3)))
            with pytest.raises(LeaseLost):
                await session.commit(
                    self.writes(projection_database, 7), CheckpointMove(at(2), at(4))
                )
            await session.commit(None, CheckpointMove(at(3), at(4)))
        finally:
            await session.release()
        row = await projection_database.checkpoint(NAME, 1)
        assert row is not None
        assert row.position == at(4)
        assert await self.rows(projection_database) == []  # the refused batch's write rolled back

    async def test_a_sessions_reads_see_its_writes_and_a_rollback_drops_them(
        self, projection_database: ProjectionDatabase
    ) -> None:
        await self.register(projection_database)
        session = await self.lease(projection_database)
        try:
            sql = f"SELECT count(*) FROM {TABLE}_v1 WHERE n > ?"
            sql = numbered(sql) if projection_database.dialect == "postgresql" else sql
            found = await session.fetch(self.writes(projection_database, 5, 6), sql, (5,))
            assert [row[0] for row in found] == [1]
            await session.rollback()
            await session.commit(None, CheckpointMove(None, at(1)))
        finally:
            await session.release()
        assert await self.rows(projection_database) == []

    async def test_an_unleased_session_cannot_move_a_checkpoint(
        self, projection_database: ProjectionDatabase
    ) -> None:
        await self.register(projection_database)
        session = await projection_database.session(NAME, 1)
        try:
            with pytest.raises(ProjectionError):
                await session.commit(None, CheckpointMove(None, at(1)))
        finally:
            await session.release()

    # -- leases --------------------------------------------------------------------------------

    async def test_one_runner_holds_a_lease_and_hands_it_on_when_released(
        self, projection_database: ProjectionDatabase
    ) -> None:
        await self.register(projection_database)
        first = await self.lease(projection_database, "first")
        assert first.epoch == 1
        assert await projection_database.acquire(NAME, 1, "second", 30.0) is None
        row = await projection_database.checkpoint(NAME, 1)
        assert row is not None
        assert (row.owner, row.epoch) == ("first", 1)
        await first.renew()
        await first.release()
        second = await self.lease(projection_database, "second")
        try:
            assert second.epoch == 2
        finally:
            await second.release()
        released = await projection_database.checkpoint(NAME, 1)
        assert released is not None
        assert released.owner is None

    async def test_a_lease_of_an_unknown_build_is_refused(
        self, projection_database: ProjectionDatabase
    ) -> None:
        with pytest.raises(UnknownProjection):
            await projection_database.acquire("nobody", 1, "me", 30.0)

    async def test_a_reset_fences_the_runner_that_held_the_lease(
        self, projection_database: ProjectionDatabase
    ) -> None:
        await self.register(projection_database)
        stale = await self.lease(projection_database, "stale")
        await stale.commit(self.writes(projection_database, 1), CheckpointMove(None, at(1)))
        await projection_database.reset(
            NAME, 1, drop_ddl(projection_database, 1) + table_ddl(1), view_ddl(1)
        )
        try:
            with pytest.raises(LeaseLost):
                await stale.commit(self.writes(projection_database, 2), CheckpointMove(None, at(2)))
            with pytest.raises(LeaseLost):
                await stale.renew()
        finally:
            await stale.release()
        row = await projection_database.checkpoint(NAME, 1)
        assert row is not None
        assert (row.position, row.owner) == (None, None)
        assert row.epoch > stale.epoch
        assert await self.rows(projection_database) == []  # the tables were made anew
        fresh = await self.lease(projection_database, "fresh")
        try:
            assert fresh.epoch == row.epoch + 1
            await fresh.commit(self.writes(projection_database, 3), CheckpointMove(None, at(3)))
        finally:
            await fresh.release()
        assert await self.rows(projection_database) == [3]

    async def test_a_lease_holder_records_its_errors(
        self, projection_database: ProjectionDatabase
    ) -> None:
        await self.register(projection_database)
        session = await self.lease(projection_database)
        try:
            await session.record_error("ValueError: bad data")
        finally:
            await session.release()
        row = await projection_database.checkpoint(NAME, 1)
        assert row is not None
        assert (row.last_error, row.last_error_at is not None) == ("ValueError: bad data", True)

    # -- parking -------------------------------------------------------------------------------

    async def test_a_skipped_event_is_parked_with_the_checkpoint_past_it(
        self, projection_database: ProjectionDatabase
    ) -> None:
        await self.register(projection_database)
        parked = self.parked_event()
        session = await self.lease(projection_database)
        try:
            await session.commit(None, CheckpointMove(None, parked.position), park=parked)
            assert await session.halted() is None
        finally:
            await session.release()
        assert await projection_database.parked(NAME, 1) == [parked]
        assert await projection_database.parked_summary(NAME, 1) == (1, False)
        row = await projection_database.checkpoint(NAME, 1)
        assert row is not None
        assert (row.position, row.last_error) == (parked.position, "boom")

    async def test_a_parked_event_counts_its_attempts_and_can_be_retried(
        self, projection_database: ProjectionDatabase
    ) -> None:
        await self.register(projection_database)
        parked = await self.park(projection_database)
        key = (NAME, 1, parked.event_id)
        assert await projection_database.update_parked(*key, error="again") is True
        (again,) = await projection_database.parked(NAME, 1)
        assert (again.attempts, again.error) == (parked.attempts + 1, "again")
        operator = await projection_database.session(NAME, 1)
        try:  # a retry that worked: its writes and the unparking in one transaction
            await operator.commit(self.writes(projection_database, 9), None, unpark=parked.event_id)
        finally:
            await operator.release()
        assert await projection_database.parked(NAME, 1) == []
        assert await self.rows(projection_database) == [9]
        assert await projection_database.update_parked(*key, error="gone") is False
        assert await projection_database.delete_parked(*key) is False

    async def test_a_halting_event_holds_the_build_until_discarded(
        self, projection_database: ProjectionDatabase
    ) -> None:
        await self.register(projection_database)
        halting = self.parked_event(status=ParkedStatus.HALTED)
        session = await self.lease(projection_database)
        try:
            await session.commit(None, None, park=halting)
            assert await session.halted() == halting
            assert await projection_database.parked_summary(NAME, 1) == (1, True)
            key = (NAME, 1, halting.event_id)
            assert await projection_database.update_parked(*key, status=ParkedStatus.DISCARD)
            discarded = await session.halted()
            assert discarded is not None
            assert discarded.status is ParkedStatus.DISCARD
            await session.commit(
                None, CheckpointMove(None, halting.position), unpark=halting.event_id
            )
            assert await session.halted() is None
        finally:
            await session.release()
        row = await projection_database.checkpoint(NAME, 1)
        assert row is not None
        assert row.position == halting.position

    async def test_a_parked_event_can_be_deleted(
        self, projection_database: ProjectionDatabase
    ) -> None:
        await self.register(projection_database)
        parked = await self.park(projection_database)
        assert await projection_database.delete_parked(NAME, 1, parked.event_id) is True
        assert await projection_database.parked_summary(NAME, 1) == (0, False)

    # -- builds --------------------------------------------------------------------------------

    async def test_a_reset_starts_the_build_over(
        self, projection_database: ProjectionDatabase
    ) -> None:
        await self.register(projection_database)
        parked = self.parked_event()
        session = await self.lease(projection_database)
        try:
            await session.commit(
                self.writes(projection_database, 1), CheckpointMove(None, at(3)), park=parked
            )
        finally:
            await session.release()
        await projection_database.reset(
            NAME, 1, drop_ddl(projection_database, 1) + table_ddl(1), view_ddl(1)
        )
        row = await projection_database.checkpoint(NAME, 1)
        assert row is not None
        assert (row.position, row.last_error, row.active) == (None, None, True)
        assert await projection_database.parked(NAME, 1) == []
        assert await projection_database.fetch(f"SELECT count(*) FROM {TABLE}") == [(0,)]
        with pytest.raises(UnknownProjection):
            await projection_database.reset("nobody", 1, [], [])

    async def test_switching_activates_one_build_and_retires_the_older(
        self, projection_database: ProjectionDatabase
    ) -> None:
        await self.register(projection_database)
        await self.register(projection_database, version=2)
        old = await self.lease(projection_database, "old", version=1)
        new = await self.lease(projection_database, "new", version=2)
        try:
            await new.commit(
                self.writes(projection_database, 2, version=2), CheckpointMove(None, at(1))
            )
            await projection_database.activate(NAME, 2, view_ddl(2))
            with pytest.raises(LeaseLost):  # the retired build's runner is fenced
                await old.commit(self.writes(projection_database, 1), CheckpointMove(None, at(1)))
        finally:
            await self.release(old, new)
        one, two = await projection_database.checkpoints()
        assert (one.active, one.retired, two.active, two.retired) == (False, True, True, False)
        assert await projection_database.fetch(f"SELECT n FROM {TABLE}") == [(2,)]
        assert await projection_database.acquire(NAME, 1, "again", 30.0) is None  # retired
        with pytest.raises(ProjectionError):
            await projection_database.activate(NAME, 1, view_ddl(1))
        with pytest.raises(UnknownProjection):
            await projection_database.activate(NAME, 3, view_ddl(3))

    async def test_only_a_build_readers_do_not_use_can_be_dropped(
        self, projection_database: ProjectionDatabase
    ) -> None:
        await self.register(projection_database)
        await self.register(projection_database, version=2)
        with pytest.raises(ProjectionError):
            await projection_database.drop(NAME, 1, drop_ddl(projection_database, 1))
        await self.park(projection_database, version=2)
        await projection_database.drop(NAME, 2, drop_ddl(projection_database, 2))
        assert [row.version for row in await projection_database.checkpoints()] == [1]
        assert await projection_database.parked(NAME, 2) == []
        with pytest.raises(UnknownProjection):
            await projection_database.acquire(NAME, 2, "late", 30.0)

    async def test_readers_write_question_marks_for_parameters(
        self, projection_database: ProjectionDatabase
    ) -> None:
        await self.register(projection_database)
        session = await self.lease(projection_database)
        try:
            await session.commit(
                self.writes(projection_database, 1, 2, 3), CheckpointMove(None, at(1))
            )
        finally:
            await session.release()
        found: Sequence[Any] = await projection_database.fetch(
            f"SELECT n, 'n?' FROM {TABLE} WHERE n >= ? AND n < ? ORDER BY n", (2, 9)
        )
        assert [tuple(row) for row in found] == [(2, "n?"), (3, "n?")]
