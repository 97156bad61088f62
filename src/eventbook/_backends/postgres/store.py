"""The PostgreSQL event store: asyncpg, a pool, one table of events, gap-safe global order.

Every append is one statement (one round trip; a conflict costs a second); the global
order is (transaction id, sequence), and readers see only transactions below their
snapshot's xmin, so no later commit can land before what they have seen. See
docs/backends/postgres.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg
import msgspec

from eventbook._backends.postgres import imports, lifecycle, migrations
from eventbook._backends.postgres.connection import (
    Connections,
    connect_one,
    create_pool,
    log,
    translated,
)
from eventbook._backends.postgres.horizon import HELD_COUNT_LIMIT, OrderingLag
from eventbook._backends.postgres.jsonb import preserve_all_floats, preserve_floats
from eventbook._backends.postgres.lifecycle_methods import PostgresLifecycle
from eventbook._backends.postgres.options import PostgresOptions, parse_url
from eventbook._backends.postgres.rows import recorded, replayed
from eventbook._backends.postgres.signals import HeldBackAwareSignal, Signals
from eventbook._backends.postgres.sql import Queries
from eventbook._errors import UnavailableError
from eventbook._store.encoding import expected_number
from eventbook._store.idempotency import StoredEvent, replayed_result
from eventbook._store.inspection import StoreStats, StreamInfo
from eventbook._store.lifecycle import check_writable
from eventbook._store.port import EventStore
from eventbook._store.signal import AppendSignal
from eventbook._store.types import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    EncodedBatch,
    EventFilter,
    Expected,
    Position,
    RecordedEvent,
    ReplayRecord,
    Snapshot,
    check_expected,
)

if TYPE_CHECKING:
    from eventbook._backends.postgres.direct import Direct
    from eventbook._backends.postgres.pool import Pool
    from eventbook._backends.postgres.session import Session

AppendHook = Callable[["Direct", Sequence[RecordedEvent]], Awaitable[None]]
"""`await hook(connection, events)`, run in an append's transaction before it commits."""

_NEWEST_VERSION = 2**63 - 1
_RACE_ATTEMPTS = 20  # a lost unique-index race is answered by calling again; this bounds it
_OUTAGE_FIRST_WAIT, _OUTAGE_MOST_WAIT = 0.1, 5.0


class PostgresEventStore(PostgresLifecycle, EventStore):
    """An event store in one PostgreSQL schema. Open it with `await PostgresEventStore.open(url)`
    (or `eventbook.connect(url)`); the options are those of `PostgresOptions`."""

    transaction_dialect = "postgresql"
    """What `add_append_hook`'s hooks are handed: an asyncpg connection."""

    def __init__(self, pool: Pool, dsn: str, options: PostgresOptions) -> None:
        super().__init__()
        self.options = options
        self.read_page_size = options.read_page_size
        self.poll_interval = options.poll_interval
        self._pool = pool
        self._connections = Connections(pool, options)
        self._sql = Queries(options.schema)
        self._signals = Signals(dsn, options, self._sql.notify)
        self._append_signal = HeldBackAwareSignal(
            self._signals, self._held_back, options.poll_interval
        )
        self._hooks: tuple[AppendHook, ...] = ()

    @classmethod
    async def open(cls, url: str, **options: Any) -> PostgresEventStore:
        """Connect, then migrate the schema (or, with `migrate=False`, check it is current)."""
        dsn, chosen = parse_url(url, options)
        pool = await create_pool(dsn, chosen)
        try:
            async with Connections(pool, chosen).connection("prepare the schema") as connection:
                if chosen.migrate:
                    await migrations.migrate(connection.connection, chosen.schema)
                else:
                    await migrations.check(connection.connection, chosen.schema)
        except BaseException:
            pool.terminate()
            raise
        return cls(pool, dsn, chosen)

    @classmethod
    async def migrate(cls, url: str, **options: Any) -> list[int]:
        """Apply pending migrations to the schema at `url`; the versions applied now."""
        dsn, chosen = parse_url(url, options)
        connection = await connect_one(dsn, chosen, "migrate")
        try:
            with translated("migrate the schema"):
                return await migrations.migrate(connection, chosen.schema)
        finally:
            await connection.close()

    def add_append_hook(self, hook: AppendHook) -> None:
        """Run `await hook(connection, events)` inside every later append's transaction.

        An extension of this backend, not of the `EventStore` port; inline projections
        use it (`InlineProjections.attach`). The hook gets the append's asyncpg
        connection and its `RecordedEvent`s after they are inserted and before the
        transaction commits; what it writes commits or rolls back with them. If it
        raises, the append is rolled back and its caller gets the exception. An exact
        retry of a stored batch does not run it again. Appends then take two more round
        trips (a transaction and reading the events back).
        """
        self._check_open()
        self._hooks = (*self._hooks, hook)

    # -- writing ---------------------------------------------------------------------------

    async def _append(self, batch: EncodedBatch) -> AppendResult:
        ids = [event.id for event in batch.events]
        query, arguments = self._append_statement(batch, ids)
        for _ in range(_RACE_ATTEMPTS):
            id_taken = False
            async with self._connections.connection("append") as session:
                try:
                    row = await self._insert(session, batch, query, arguments)
                except asyncpg.UniqueViolationError as exc:
                    if exc.constraint_name != "events_id":
                        continue  # another append took this version first; look again
                    id_taken, row = True, None
                except asyncpg.exceptions.TransactionRollbackError:
                    continue  # a deadlock between batches sharing ids; one of them retries
                if row is not None and row[0] is not None:
                    self._signals.appended()
                    return AppendResult(row[0], Position(row[1], row[2]))
                current, *stored = await session.fetch(self._sql.refusal, ids, batch.stream)
                marks = await lifecycle.stream_marks(session, self._sql, batch.stream)
            if stored:  # ids before versions: a retried batch carries a stale expectation
                return replayed_result(
                    batch,
                    [
                        StoredEvent(r[1], r[2], r[3], Position(r[4], r[5]), r[6], r[7])
                        for r in stored
                    ],
                )
            if not id_taken and marks is not None and (marks.deleted or marks.tombstoned):
                check_writable(batch, marks, current[3])  # raises unless it may restart
                restarted = await self._restart(batch, ids, current[3])
                if restarted is not None:
                    return restarted
            elif not id_taken:
                # Raises unless the stream has moved on to what was expected meanwhile.
                check_expected(batch.stream, batch.expected, current[3])
            # Try again: the stream now matches, or the append holding that id rolled back.
        raise UnavailableError(
            f"could not append to {batch.stream!r}: it lost {_RACE_ATTEMPTS} races in a row"
        )

    async def _restart(
        self, batch: EncodedBatch, ids: list[UUID], current: int
    ) -> AppendResult | None:
        """Start a new history of a deleted stream at `current`; None if it moved meanwhile."""
        exact = msgspec.structs.replace(batch, expected=current)
        query, arguments = self._append_statement(exact, ids)
        async with self._connections.connection("append") as session:
            try:
                async with session.connection.transaction():
                    if not await session.fetchval(self._sql.reopen_stream, batch.stream):
                        return None
                    row = await self._insert(session, exact, query, arguments)
                    if row is None or row[0] is None:
                        raise _Moved
            except (_Moved, asyncpg.UniqueViolationError):
                return None
        self._signals.appended()
        return AppendResult(row[0], Position(row[1], row[2]))

    async def _insert(
        self, session: Session, batch: EncodedBatch, query: str, arguments: tuple[object, ...]
    ) -> asyncpg.Record | None:
        """Run the append statement; with hooks, in a transaction that also runs them."""
        if not self._hooks:
            return await session.fetchrow(query, *arguments)
        async with session.connection.transaction():
            row = await session.fetchrow(query, *arguments)
            if row is not None and row[0] is not None:
                count = len(batch.events)
                rows = await session.fetch(
                    self._sql.read_stream_forwards, batch.stream, row[0] - count + 1, count
                )
                events = recorded(rows)
                for hook in self._hooks:
                    await hook(session.connection, events)
            return row

    def _append_statement(
        self, batch: EncodedBatch, ids: list[UUID]
    ) -> tuple[str, tuple[object, ...]]:
        events, expected = batch.events, _expected_code(batch.expected)
        if any(event.recorded_at is not None for event in events):  # imported events
            return self._sql.append_recorded, (
                batch.stream,
                expected,
                ids,
                [event.type for event in events],
                preserve_all_floats([event.data for event in events]),
                preserve_all_floats([event.metadata for event in events]),
                [event.recorded_at for event in events],
            )
        if len(events) == 1:
            (only,) = events
            data, metadata = preserve_floats(only.data), preserve_floats(only.metadata)
            return self._sql.append_one, (batch.stream, expected, ids[0], only.type, data, metadata)
        return self._sql.append, (
            batch.stream,
            expected,
            ids,
            [event.type for event in events],
            preserve_all_floats([event.data for event in events]),
            preserve_all_floats([event.metadata for event in events]),
        )

    async def _import(self, batches: Sequence[EncodedBatch]) -> None:
        async with (
            self._connections.connection("import events") as session,
            session.connection.transaction(),
        ):
            await imports.import_batches(session, self._sql, batches)
            for batch in batches if self._hooks else ():
                first, count = expected_number(batch.expected) + 1, len(batch.events)
                rows = await session.fetch(
                    self._sql.read_stream_forwards, batch.stream, first, count
                )
                for hook in self._hooks:
                    await hook(session.connection, recorded(rows))
        self._signals.appended()

    async def _list_streams(self, category: str | None) -> list[StreamInfo]:
        async with self._connections.connection("list streams") as session:
            return await imports.list_streams(session, self._sql, category)

    async def _stats(self) -> StoreStats:
        async with self._connections.connection("read store statistics") as session:
            return await imports.stats(session, self._sql)

    async def _save_snapshot(self, stream: str, version: int, schema: str, state: bytes) -> None:
        async with self._connections.connection("save a snapshot") as connection:
            await connection.fetch(
                self._sql.save_snapshot, stream, schema, version, preserve_floats(state)
            )

    # -- reading ---------------------------------------------------------------------------

    async def _read_stream_page(
        self, stream: str, from_version: int | None, backwards: bool, limit: int
    ) -> list[RecordedEvent]:
        if backwards:
            query, start = self._sql.read_stream_backwards, from_version or _NEWEST_VERSION
        else:
            query, start = self._sql.read_stream_forwards, from_version or 1
        async with self._connections.connection("read a stream") as connection:
            rows = await connection.fetch(query, stream, start, limit)
        return recorded(rows)

    async def _read_replay_page(
        self, stream: str, from_version: int | None, limit: int
    ) -> list[ReplayRecord]:
        async with self._connections.connection("read a stream") as connection:
            rows = await connection.fetch(self._sql.replay_stream, stream, from_version or 1, limit)
        return replayed(rows)

    async def _read_all_page(
        self, after: Position | None, limit: int, wanted: EventFilter
    ) -> list[RecordedEvent]:
        major, minor = (0, 0) if after is None else (after.major, after.minor)
        async with self._connections.connection("read the global order") as connection:
            if wanted.types is None and wanted.categories is None:
                rows = await connection.fetch(self._sql.read_all, major, minor, limit)
            else:
                rows = await connection.fetch(
                    self._sql.read_all_filtered,
                    major,
                    minor,
                    limit,
                    None if wanted.types is None else list(wanted.types),
                    None if wanted.categories is None else list(wanted.categories),
                )
        return recorded(rows)

    async def _read_event(self, event_id: UUID) -> RecordedEvent | None:
        async with self._connections.connection("read an event") as connection:
            rows = await connection.fetch(self._sql.read_event, event_id)
        return next(iter(recorded(rows)), None)

    async def _load_snapshot(
        self, stream: str, schema: str, max_version: int | None
    ) -> Snapshot | None:
        async with self._connections.connection("load a snapshot") as connection:
            row = await connection.fetchrow(
                self._sql.load_snapshot, stream, schema, max_version or _NEWEST_VERSION
            )
        return None if row is None else Snapshot(row[0], row[1], row[2], row[3], row[4])

    async def _stream_version(self, stream: str) -> int:
        async with self._connections.connection("read a stream version") as connection:
            version: int = await connection.fetchval(self._sql.stream_version, stream)
        return version

    def _position_fits(self, position: Position) -> bool:
        return position.major > 0  # a transaction id, never 0 (so not even `0`)

    async def head(self) -> Position | None:
        self._check_open()
        async with self._connections.connection("read the head position") as connection:
            row = await connection.fetchrow(self._sql.head)
        return None if row is None else Position(row[0], row[1])

    @property
    def listening(self) -> bool:
        """True while wake-ups from other processes reach this store's subscriptions
        (False before the first subscription waits, and while reconnecting)."""
        return self._signals.listening_now

    async def ordering_lag(self) -> OrderingLag:
        """How far open transactions hold readers back right now (see `OrderingLag`)."""
        self._check_open()
        async with self._connections.connection("read the ordering lag") as connection:
            row = await connection.fetchrow(self._sql.ordering_lag, HELD_COUNT_LIMIT)
        assert row is not None
        return OrderingLag(*row)

    # -- subscriptions ---------------------------------------------------------------------

    async def _subscription_page(
        self, after: Position | None, wanted: EventFilter
    ) -> list[RecordedEvent]:
        """A subscription rides out outages: while PostgreSQL cannot be reached it retries
        with backoff (logging a warning), then goes on after the last event it yielded, so
        nothing is lost or repeated."""
        wait = _OUTAGE_FIRST_WAIT
        while True:
            try:
                return await self._read_all_page(after, self.read_page_size, wanted)
            except UnavailableError as exc:
                log.warning("subscription waits for PostgreSQL (%s s): %s", wait, exc)
                await asyncio.sleep(wait)
                wait = min(wait * 2, _OUTAGE_MOST_WAIT)
                self._check_open()

    @property
    def append_signal(self) -> AppendSignal:
        return self._append_signal

    async def _held_back(self) -> bool:
        try:
            async with self._connections.connection("look for held-back events") as connection:
                held: bool = await connection.fetchval(self._sql.held_back)
        except UnavailableError:
            return False  # the next read reports the outage
        return held

    async def _close(self) -> None:
        await self._signals.close()
        try:
            async with asyncio.timeout(5):
                await self._pool.close()
        except TimeoutError:
            self._pool.terminate()


class _Moved(Exception):
    """The deleted stream changed between the refusal and the restart: look again."""


def _expected_code(expected: Expected) -> int:
    """How queries/append.sql takes an expectation."""
    if expected is ANY:
        return -1
    if expected is STREAM_EXISTS:
        return -2
    if expected is NO_STREAM:
        return 0
    assert isinstance(expected, int)
    return expected
