"""`PostgresEventStore`'s stream-lifecycle primitives, each a transaction of `lifecycle.py`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from eventbook._backends.postgres import lifecycle
from eventbook._store.lifecycle import StreamMarks, StreamState
from eventbook._store.types import AppendResult, Expected, RecordedEvent

if TYPE_CHECKING:
    from eventbook._backends.postgres.connection import Connections
    from eventbook._backends.postgres.session import Session
    from eventbook._backends.postgres.signals import Signals
    from eventbook._backends.postgres.sql import Queries
    from eventbook._backends.postgres.store import AppendHook


class PostgresLifecycle:
    """Mixed into `PostgresEventStore`, which provides these attributes."""

    _connections: Connections
    _sql: Queries
    _signals: Signals
    _hooks: tuple[AppendHook, ...]

    async def _stream_marks(self, stream: str) -> StreamMarks | None:
        async with self._connections.connection("read a stream's marks") as session:
            return await lifecycle.stream_marks(session, self._sql, stream)

    async def _delete_stream(self, stream: str, expected: Expected, hard: bool) -> AppendResult:
        result = await self._change(
            "delete a stream",
            lambda s: lifecycle.delete_stream(s, self._sql, stream, expected, hard, self._hook),
        )
        assert result is not None  # a deletion always records its system event
        return result

    async def _truncate_stream(self, stream: str, before: int) -> AppendResult | None:
        return await self._change(
            "truncate a stream",
            lambda s: lifecycle.truncate_stream(s, self._sql, stream, before, self._hook),
        )

    async def _purge_stream(self, stream: str) -> AppendResult | None:
        return await self._change(
            "purge a stream", lambda s: lifecycle.purge_stream(s, self._sql, stream, self._hook)
        )

    async def _set_retention(
        self, stream: str, max_count: int | None, max_age_seconds: float | None
    ) -> None:
        async with self._connections.connection("set a stream's retention") as session:
            await lifecycle.set_retention(session, self._sql, stream, max_count, max_age_seconds)

    async def _retained_streams(self) -> list[StreamState]:
        async with self._connections.connection("list retained streams") as session:
            return await lifecycle.retained_streams(session, self._sql)

    async def _newest_snapshot_version(self, stream: str) -> int | None:
        async with self._connections.connection("find the newest snapshot") as session:
            version: int | None = await session.fetchval(self._sql.newest_snapshot, stream)
        return version

    async def _change(
        self, what: str, change: Callable[[Session], Awaitable[AppendResult | None]]
    ) -> AppendResult | None:
        async with self._connections.connection(what) as session:
            result = await change(session)
        if result is not None:
            self._signals.appended()
        return result

    async def _hook(self, session: Session, events: Sequence[RecordedEvent]) -> None:
        for hook in self._hooks:
            await hook(session.connection, events)
