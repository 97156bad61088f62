"""`SQLiteEventStore`: the event-store port on one SQLite file (or `:memory:`).

Threads and connections:
- one writer thread owns the only writing connection; appends queued while it is busy
  are committed together in its next transaction (group commit, see `appends.py`);
- reads run on the event loop's thread (or, with the option `readers`, on reader threads),
  on read-only connections of their own; with write-ahead logging a read never waits
  for the writer, and the writer never waits for readers;
- an in-memory database exists in one connection only, so there the writer thread also
  serves the reads.

Global order: a position is the event's rowid, chosen inside the write transaction as
one more than the highest stored or ever removed position (`group_start.sql`). SQLite
lets one transaction write at a time, in this process or any other, so positions are
handed out in commit order: once a reader sees a position, every smaller one is
committed already and no later commit can reveal an event before it. The order is
gap-safe without any lock of our own; docs/backends/sqlite.md gives the whole argument.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from uuid import UUID

import msgspec

from eventbook._backends.sqlite import lifecycle, reads
from eventbook._backends.sqlite.appends import AppendHook, stream_marks, unavailable
from eventbook._backends.sqlite.connection import MEMORY, open_connection
from eventbook._backends.sqlite.documents import REPLAYED, decode_documents
from eventbook._backends.sqlite.imports import import_batches
from eventbook._backends.sqlite.options import SQLiteOptions
from eventbook._backends.sqlite.readahead import ReadAhead
from eventbook._backends.sqlite.schema import prepare_database
from eventbook._backends.sqlite.sql import queries
from eventbook._backends.sqlite.watcher import CommitWatcher
from eventbook._backends.sqlite.worker import LoopReader, Readers, Workers, Writer
from eventbook._errors import ValidationError
from eventbook._store.inspection import StoreStats, StreamInfo
from eventbook._store.lifecycle import StreamMarks, StreamState
from eventbook._store.port import EventStore
from eventbook._store.signal import AppendSignal, Wakeup
from eventbook._store.types import (
    AppendResult,
    EncodedBatch,
    EventFilter,
    Expected,
    Position,
    RecordedEvent,
    ReplayRecord,
    Snapshot,
)

FIRST_FETCH = 1024
"""Rows fetched when a read starts with a whole page (see `_first`)."""


class SQLiteEventStore(EventStore):
    """An event store in one SQLite database. Open it with `await SQLiteEventStore.open()`."""

    transaction_dialect = "sqlite"
    """What `add_append_hook`'s hooks are handed: a `sqlite3.Connection`."""

    read_page_size = 64
    """Small pages decode fastest (they stay in the CPU cache); trips to a reader thread
    fetch many pages at once (see `readahead.py`)."""

    poll_interval = 1.0
    """Only a safety net: commits wake subscribers directly (this store's own) or through
    the watcher within `watch_interval` (other connections')."""

    def __init__(
        self,
        *,
        path: str,
        options: SQLiteOptions,
        writer: Writer,
        readers: Readers,
        wakeup: Wakeup,
        watcher: tuple[CommitWatcher, sqlite3.Connection] | None,
    ) -> None:
        """Internal: use `open()`, which starts the threads these arguments describe."""
        super().__init__()
        self.path = path
        self.options = options
        self._writer = writer
        self._readers = readers
        self._wakeup = wakeup
        # Reads on the loop's thread fetch no more than they are about to decode: fetching
        # ahead only pays off where a thread can fetch while the loop decodes.
        threaded = readers is not writer and options.readers > 0
        self._ahead = ReadAhead(fetch_ahead=threaded, most=4096 if threaded else FIRST_FETCH)
        self._watcher: CommitWatcher | None = None
        self._watch_connection: sqlite3.Connection | None = None
        if watcher is not None:
            self._watcher, self._watch_connection = watcher

    @classmethod
    async def open(cls, path: str | os.PathLike[str], **options: object) -> SQLiteEventStore:
        """Open (creating or upgrading as needed) the store at `path`, or `":memory:"`.

        Options (keywords, or strings from a URL query): `synchronous` (OFF, NORMAL,
        FULL - the default - or EXTRA), `busy_timeout` (ms, default 5000), `readers`
        (reader threads; the default, 0, reads on the event loop's thread), `watch_interval`
        (seconds, default 0.05).
        """
        settings = SQLiteOptions.parse(options)
        location = _location(path)
        wakeup = Wakeup()
        writer = Writer(
            "eventbook-sqlite-writer", lambda: open_connection(location, settings), wakeup.notify
        )
        await writer.start()
        readers: Readers = writer
        watcher: tuple[CommitWatcher, sqlite3.Connection] | None = None
        try:
            await writer.call(lambda connection: prepare_database(connection, location))
            if location != MEMORY:

                def reader_connection() -> sqlite3.Connection:
                    return open_connection(location, settings, read_only=True)

                if settings.readers:
                    threads = Workers(
                        "eventbook-sqlite-reader", reader_connection, settings.readers
                    )
                    await threads.start()
                    readers = threads
                else:
                    on_loop = LoopReader(reader_connection)
                    await on_loop.start()
                    readers = on_loop
                watcher = await _start_watcher(location, settings, readers, wakeup)
        except BaseException:
            if readers is not writer:
                await readers.stop()
            await writer.stop()
            raise
        return cls(
            path=location,
            options=settings,
            writer=writer,
            readers=readers,
            wakeup=wakeup,
            watcher=watcher,
        )

    def add_append_hook(self, hook: AppendHook) -> None:
        """Run `hook(connection, events)` inside every later append's transaction.

        An extension of this backend, not of the `EventStore` port; inline projections
        use it (`InlineProjections.attach`). The hook runs in the writer thread after
        the append's events are inserted and before the transaction commits, with the
        writer's `sqlite3.Connection` and the append's `RecordedEvent`s; what it writes
        commits or rolls back with them. If it raises, that append alone is rolled back
        and its caller gets the exception; the other appends of the group still commit.
        It must not commit, roll back or block for long: every append of the group
        waits for it. An exact retry of a stored batch does not run it again.
        """
        self._check_open()
        self._writer.hooks = (*self._writer.hooks, hook)

    def __repr__(self) -> str:
        return f"SQLiteEventStore({self.path!r}, synchronous={self.options.synchronous})"

    # -- the port's primitives -------------------------------------------------------------

    async def _append(self, batch: EncodedBatch) -> AppendResult:
        return await self._writer.append(batch)

    async def _import(self, batches: Sequence[EncodedBatch]) -> None:
        hooks = self._writer.hooks
        try:
            written = await self._writer.call(lambda c: import_batches(c, batches, hooks))
        except sqlite3.Error as exc:
            raise unavailable(exc, "nothing was imported") from exc
        if written:
            self._wakeup.notify()

    async def _list_streams(self, category: str | None) -> list[StreamInfo]:
        return await self._readers.call(lambda c: reads.list_streams(c, category))

    async def _stats(self) -> StoreStats:
        wal = 0 if self.path == MEMORY else _file_size(self.path + "-wal")
        return await self._readers.call(lambda c: reads.stats(c, wal))

    async def _read_stream_page(
        self, stream: str, from_version: int | None, backwards: bool, limit: int
    ) -> list[RecordedEvent]:
        if backwards:
            start = reads.NEWEST if from_version is None else from_version
        else:
            start = 1 if from_version is None else from_version

        def fetch(cursor: int, count: int) -> asyncio.Future[reads.Chunk]:
            return self._readers.call(
                lambda c: reads.stream_page(c, stream, cursor, backwards, count)
            )

        advance = _version_before if backwards else _version_after
        scope = ("stream", stream, backwards)
        first = self._first(limit)
        return await self._ahead.page(scope, start, limit, fetch, _version, advance, first)

    async def _read_replay_page(
        self, stream: str, from_version: int | None, limit: int
    ) -> list[ReplayRecord]:
        start = 1 if from_version is None else from_version

        def fetch(cursor: int, count: int) -> asyncio.Future[reads.Chunk]:
            return self._readers.call(lambda c: reads.stream_page(c, stream, cursor, False, count))

        scope = ("stream", stream, False)  # the same documents as read_stream's
        first = self._first(limit)
        return await self._ahead.page(
            scope, start, limit, fetch, _version, _version_after, first, REPLAYED
        )

    async def _read_all_page(
        self, after: Position | None, limit: int, wanted: EventFilter
    ) -> list[RecordedEvent]:
        start = 0 if after is None else after.minor if after.major == 0 else _foreign(after)
        types = _names(wanted.types)
        categories = _names(wanted.categories)

        def fetch(cursor: int, count: int) -> asyncio.Future[reads.Chunk]:
            return self._readers.call(lambda c: reads.all_page(c, cursor, count, types, categories))

        scope = ("all", types, categories)
        first = self._first(limit)
        return await self._ahead.page(scope, start, limit, fetch, _position, _same, first)

    def _first(self, limit: int) -> int:
        # A whole page asked for is most likely the start of a longer read (a stream
        # loaded to its end, a read_all loop): fetch ahead from the start. A smaller one
        # comes from an explicit `limit`, so fetch no more than that.
        return FIRST_FETCH if limit >= self.read_page_size else limit

    # -- stream lifecycle (sqlite/lifecycle.py) --------------------------------------------

    async def _stream_marks(self, stream: str) -> StreamMarks | None:
        return await self._readers.call(lambda c: stream_marks(c, stream))

    async def _delete_stream(self, stream: str, expected: Expected, hard: bool) -> AppendResult:
        result = await self._change(
            lambda c, hooks: lifecycle.delete_stream(c, stream, expected, hard, hooks)
        )
        assert result is not None  # a deletion always records its system event
        return result

    async def _truncate_stream(self, stream: str, before: int) -> AppendResult | None:
        return await self._change(
            lambda c, hooks: lifecycle.truncate_stream(c, stream, before, hooks)
        )

    async def _purge_stream(self, stream: str) -> AppendResult | None:
        return await self._change(lambda c, hooks: lifecycle.purge_stream(c, stream, hooks))

    async def _set_retention(
        self, stream: str, max_count: int | None, max_age_seconds: float | None
    ) -> None:
        try:
            await self._writer.call(
                lambda c: lifecycle.set_retention(c, stream, max_count, max_age_seconds)
            )
        except sqlite3.Error as exc:
            raise unavailable(exc, "the retention was not set") from exc

    async def _retained_streams(self) -> list[StreamState]:
        return await self._readers.call(lifecycle.retained_streams)

    async def _newest_snapshot_version(self, stream: str) -> int | None:
        return await self._readers.call(lambda c: lifecycle.newest_snapshot(c, stream))

    async def _change(
        self,
        change: Callable[[sqlite3.Connection, Sequence[AppendHook]], AppendResult | None],
    ) -> AppendResult | None:
        hooks = self._writer.hooks
        try:
            result = await self._writer.call(lambda c: change(c, hooks))
        except sqlite3.Error as exc:
            raise unavailable(exc, "the stream was not changed") from exc
        self._ahead.clear()  # buffered rows may hold removed events
        if result is not None:
            self._wakeup.notify()
        return result

    async def _read_event(self, event_id: UUID) -> RecordedEvent | None:
        key = event_id.bytes
        document = await self._readers.call(lambda c: reads.event_by_id(c, key))
        return None if document is None else decode_documents([document])[0]

    async def _save_snapshot(self, stream: str, version: int, schema: str, state: bytes) -> None:
        taken_at = datetime.now(UTC).isoformat()
        row = (stream, schema, version, state, taken_at)
        try:
            await self._writer.call(lambda c: c.execute(queries().save_snapshot, row).close())
        except sqlite3.Error as exc:
            raise unavailable(exc, "the snapshot was not saved") from exc

    async def _load_snapshot(
        self, stream: str, schema: str, max_version: int | None
    ) -> Snapshot | None:
        return await self._readers.call(
            lambda c: reads.load_snapshot(c, stream, schema, max_version)
        )

    async def _stream_version(self, stream: str) -> int:
        return await self._readers.call(lambda c: reads.stream_version(c, stream))

    def _position_fits(self, position: Position) -> bool:
        return position.major == 0  # one sequence: the rowid

    async def head(self) -> Position | None:
        self._check_open()
        position = await self._readers.call(reads.head)
        return None if position is None else Position(0, position)

    @property
    def append_signal(self) -> AppendSignal:
        # A file can be written by other connections too: the watcher notices those.
        return self._wakeup if self._watcher is None else self._watcher

    async def _close(self) -> None:
        if self._watcher is not None:
            await self._watcher.stop()
        if self._watch_connection is not None:
            watched = self._watch_connection
            await self._readers.call(lambda _: watched.close())
        await self._writer.stop()  # appends already queued are written first
        if self._readers is not self._writer:
            await self._readers.stop()
        self._ahead.clear()
        self._wakeup.notify()  # waiting subscribers look again and find the store closed


def _location(path: object) -> str:
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str) or not path.strip():
        raise ValidationError(
            f"the SQLite path must be a non-empty file path or ':memory:', not {path!r}"
        )
    return path


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:  # no write-ahead log right now
        return 0


def _position(event: RecordedEvent) -> int:
    return event.position.minor


def _version(event: RecordedEvent | ReplayRecord) -> int:
    return event.version


def _same(position: int) -> int:
    return position  # read_all continues *after* the last position it returned


def _version_after(version: int) -> int:
    return version + 1


def _version_before(version: int) -> int:
    return version - 1


def _names(chosen: frozenset[str] | None) -> str | None:
    return None if chosen is None else msgspec.json.encode(sorted(chosen)).decode()


def _foreign(position: Position) -> int:
    raise ValidationError(f"position {position} does not come from a SQLite store")


async def _start_watcher(
    path: str, options: SQLiteOptions, readers: Readers, wakeup: Wakeup
) -> tuple[CommitWatcher, sqlite3.Connection]:
    # The watcher has a connection of its own: PRAGMA data_version counts the commits of
    # *other* connections, so it must always be asked on the same one. The watcher asks
    # it from whichever reader thread is free, one poll at a time.
    own = await readers.call(
        lambda _: open_connection(path, options, read_only=True, check_same_thread=False)
    )
    baseline = await readers.call(lambda _: reads.data_version(own))

    def poll() -> asyncio.Future[int]:
        return readers.call(lambda _: reads.data_version(own))

    return CommitWatcher(poll, wakeup, options.watch_interval, baseline), own
