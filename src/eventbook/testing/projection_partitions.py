"""The partition part of the projection-database conformance suite.

`ProjectionDatabaseConformance` includes these tests; they need the same
`projection_database` fixture. Covered: a row and a lease per partition, commits fenced
per partition, resets and drops of every partition at once, the partition count fixed
at registration, and the membership heartbeat daemons share partitions by.
"""

from __future__ import annotations

import asyncio

import pytest

from eventbook._errors import LeaseLost, PartitionMismatch
from eventbook._store.types import Position
from eventbook.projections._ports import CheckpointMove, ProjectionDatabase

NAME = "partitioned"


def _at(n: int) -> Position:
    return Position(0, n)


class PartitionConformance:
    """Partitioned builds: see the module doc."""

    async def test_each_partition_has_its_own_row_lease_and_checkpoint(
        self, projection_database: ProjectionDatabase
    ) -> None:
        database = projection_database
        await database.register(NAME, 1, "async", [], [], partitions=3)
        rows = await database.partitions(NAME, 1)
        assert [row.partition for row in rows] == [0, 1, 2]
        assert all(row.active and row.position is None for row in rows)
        one = await database.acquire(NAME, 1, "a", 30.0, partition=1)
        assert one is not None
        assert one.partition == 1
        try:
            assert await database.acquire(NAME, 1, "b", 30.0, partition=1) is None
            two = await database.acquire(NAME, 1, "b", 30.0, partition=2)
            assert two is not None
            try:
                await one.commit(None, CheckpointMove(None, _at(5)))
                await two.commit(None, CheckpointMove(None, _at(3)))
            finally:
                await two.release()
        finally:
            await one.release()
        positions = [row.position for row in await database.partitions(NAME, 1)]
        assert positions == [None, _at(5), _at(3)]
        row = await database.checkpoint(NAME, 1, partition=2)
        assert row is not None
        assert (row.partition, row.position, row.owner) == (2, _at(3), None)

    async def test_a_reset_fences_every_partition_and_a_drop_removes_them(
        self, projection_database: ProjectionDatabase
    ) -> None:
        database = projection_database
        await database.register(NAME, 1, "async", [], [], partitions=2)
        await database.register(NAME, 2, "async", [], [], partitions=2)
        sessions = [await database.acquire(NAME, 1, "a", 30.0, partition=p) for p in (0, 1)]
        try:
            for session in sessions:
                assert session is not None
                await session.commit(None, CheckpointMove(None, _at(1)))
            await database.reset(NAME, 1, [], [])
            for session in sessions:
                assert session is not None
                with pytest.raises(LeaseLost):
                    await session.commit(None, CheckpointMove(_at(1), _at(2)))
        finally:
            for session in sessions:
                if session is not None:
                    await session.release()
        assert [row.position for row in await database.partitions(NAME, 1)] == [None, None]
        await database.activate(NAME, 2, [])
        assert all(row.retired for row in await database.partitions(NAME, 1))
        assert all(row.active for row in await database.partitions(NAME, 2))
        await database.drop(NAME, 1, [])
        assert await database.partitions(NAME, 1) == []

    async def test_the_partition_count_is_fixed_when_a_build_is_registered(
        self, projection_database: ProjectionDatabase
    ) -> None:
        await projection_database.register(NAME, 1, "async", [], [], partitions=4)
        await projection_database.register(NAME, 1, "async", [], [], partitions=4)  # again
        with pytest.raises(PartitionMismatch):
            await projection_database.register(NAME, 1, "async", [], [])

    async def test_heartbeats_count_the_live_members_of_a_build(
        self, projection_database: ProjectionDatabase
    ) -> None:
        database = projection_database
        assert await database.heartbeat(NAME, 1, "a", 30.0) == 1
        assert await database.heartbeat(NAME, 1, "b", 30.0) == 2
        assert await database.heartbeat(NAME, 1, "a", 30.0) == 2  # a renewal, not a new one
        assert await database.heartbeat(NAME, 2, "c", 30.0) == 1  # another build's
        await database.leave(NAME, 1, "a")
        assert await database.heartbeat(NAME, 1, "b", 30.0) == 1
        assert await database.heartbeat(NAME, 1, "short", 0.05) == 2
        await asyncio.sleep(0.1)
        assert await database.heartbeat(NAME, 1, "b", 30.0) == 1  # "short" expired
