"""The SQLite backend: the shared conformance suite on a file and in memory, plus what is
particular to SQLite (group commit, the in-transaction hook, several processes, reopening).
Schema and options are tested in test_sqlite_schema.py."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
import pytest_asyncio

from eventbook._backends.sqlite import SQLiteEventStore
from eventbook._backends.sqlite import worker as sqlite_worker
from eventbook._backends.sqlite.appends import AppendJob
from eventbook._connect import connect
from eventbook._errors import (
    ConcurrencyError,
    DuplicateEventError,
    StoreClosed,
    UnavailableError,
)
from eventbook._store.port import EventStore
from eventbook._store.types import NO_STREAM, NewEvent, Position, RecordedEvent
from eventbook.testing import EventStoreConformance
from eventbook.testing.importing import copied
from tests.sqlite_steps import counting_steps


class TestSQLiteFile(EventStoreConformance):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path}/events.db"


class TestSQLiteReaderThreads(EventStoreConformance):
    """Reads on reader threads (fetching ahead) instead of the event loop's thread."""

    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path}/events.db?readers=2"


class TestSQLiteMemory(EventStoreConformance):
    """`:memory:` lives in one connection: the tests needing a second one are skipped."""

    @pytest.fixture
    def store_url(self) -> None:
        return None

    @pytest_asyncio.fixture
    async def store(self, store_url: None) -> AsyncIterator[EventStore]:
        async with await connect("sqlite://:memory:") as store:
            yield store


# -- helpers ---------------------------------------------------------------------------------


def new(n: int = 0, kind: str = "Happened") -> NewEvent:
    return NewEvent(kind, {"n": n})


async def collect(events: AsyncIterator[RecordedEvent]) -> list[RecordedEvent]:
    return [e async for e in events]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "events.db"


@pytest_asyncio.fixture
async def store(path: Path) -> AsyncIterator[SQLiteEventStore]:
    async with await SQLiteEventStore.open(path) as opened:
        yield opened


@pytest.fixture
def groups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every group transaction the writer commits (or tries to)."""
    sizes: list[int] = []
    real = sqlite_worker.commit_group

    def counted(connection: sqlite3.Connection, jobs: Sequence[AppendJob], hooks: Any) -> bool:
        sizes.append(len(jobs))
        return real(connection, jobs, hooks)

    monkeypatch.setattr(sqlite_worker, "commit_group", counted)
    return sizes


# -- group commit ------------------------------------------------------------------------------


async def test_concurrent_appends_share_transactions(
    store: SQLiteEventStore, groups: list[int]
) -> None:
    results = await asyncio.gather(*(store.append(f"g-{n}", [new(n)]) for n in range(50)))
    assert sum(groups) == 50
    assert len(groups) < 50  # several appends per transaction
    assert sorted(r.position for r in results) == [
        e.position for e in await collect(store.read_all())
    ]
    assert len({r.position for r in results}) == 50


async def test_one_conflicting_append_in_a_group_fails_alone(
    store: SQLiteEventStore, groups: list[int]
) -> None:
    await store.append("c-1", [new()])
    reused = new(7)
    await store.append("d-1", [reused])
    groups.clear()
    outcomes = await asyncio.gather(
        store.append("c-1", [new(1)], expected=1),
        store.append("c-1", [new(2)], expected=1),  # stale once the first one is in
        store.append("c-2", [new(3)], expected=NO_STREAM),
        store.append("c-3", [NewEvent("Happened", {"n": 8}, id=reused.id)]),  # reused id
        store.append("c-4", [new(4), new(5)]),
        return_exceptions=True,
    )
    assert groups == [5]  # all five went through one transaction
    assert isinstance(outcomes[1], ConcurrencyError)
    assert isinstance(outcomes[3], DuplicateEventError)
    assert [(await store.stream_version(s)) for s in ("c-1", "c-2", "c-3", "c-4")] == [2, 1, 0, 2]
    everything = await collect(store.read_all())
    assert [e.position.minor for e in everything] == list(range(1, 7))  # no holes


async def test_a_retry_in_the_same_group_returns_the_first_result(
    store: SQLiteEventStore, groups: list[int]
) -> None:
    batch = [new(1), new(2)]
    first, again = await asyncio.gather(
        store.append("r-1", batch, expected=NO_STREAM),
        store.append("r-1", batch, expected=NO_STREAM),
    )
    assert groups == [2]
    assert (first.version, first.position) == (again.version, again.position)
    assert (first.replayed, again.replayed) == (False, True)
    assert await store.stream_version("r-1") == 2


async def test_an_append_cancelled_before_the_writer_took_it_is_not_stored(
    store: SQLiteEventStore,
) -> None:
    task = asyncio.create_task(store.append("x-1", [new()]))
    await asyncio.sleep(0)  # the task queued its append and waits for the writer
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await store.append("x-2", [new()])  # passes through the writer after the cancelled one
    assert await store.stream_version("x-1") == 0


@pytest.mark.parametrize("where", ["file", "memory"])
async def test_appends_made_as_the_store_closes_are_written(path: Path, where: str) -> None:
    store = await SQLiteEventStore.open(path if where == "file" else ":memory:")
    appending = asyncio.gather(*(store.append("z-1", [new(n)]) for n in range(3)))
    await asyncio.sleep(0)  # the appends are queued, not yet handed to the writer
    await store.close()  # directly: a task would let the loop hand the appends over first
    assert [r.version for r in await asyncio.wait_for(appending, 5)] == [1, 2, 3]


# -- the in-transaction hook ---------------------------------------------------------------------


async def test_an_append_hook_writes_in_the_append_transaction(store: SQLiteEventStore) -> None:
    def setup(connection: sqlite3.Connection) -> None:
        connection.execute("CREATE TABLE totals (stream TEXT PRIMARY KEY, events INTEGER)")

    await store._writer.call(setup)
    seen: list[list[tuple[str, int, int]]] = []

    def hook(connection: sqlite3.Connection, events: Sequence[RecordedEvent]) -> None:
        seen.append([(e.stream, e.version, e.position.minor) for e in events])
        for e in events:
            if e.data.get("fail"):
                raise RuntimeError("the projection refused this event")
            connection.execute(
                "INSERT INTO totals VALUES (?, 1)"
                " ON CONFLICT (stream) DO UPDATE SET events = events + 1",
                (e.stream,),
            )

    store.add_append_hook(hook)
    retried = [new(1), new(2)]
    outcomes = await asyncio.gather(
        store.append("h-1", retried),
        store.append("h-2", [NewEvent("Happened", {"fail": True})]),
        store.append("h-3", [new(3)]),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], RuntimeError)
    replay = await store.append("h-1", retried)  # a replay runs no hook
    assert replay == msgspec.structs.replace(outcomes[0], replayed=True)
    assert seen[0] == [("h-1", 1, 1), ("h-1", 2, 2)]
    assert len(seen) == 3
    assert await store.stream_version("h-2") == 0
    rows = await store._readers.call(
        lambda c: c.execute("SELECT stream, events FROM totals ORDER BY stream").fetchall()
    )
    assert rows == [("h-1", 2), ("h-3", 1)]
    assert [e.position.minor for e in await collect(store.read_all())] == [1, 2, 3]


async def test_an_import_runs_the_hook_per_stream_run_and_writes_interleaved_rows_in_order(
    store: SQLiteEventStore,
) -> None:
    seen: list[list[tuple[str, int, int]]] = []

    def hook(connection: sqlite3.Connection, events: Sequence[RecordedEvent]) -> None:
        stored = connection.execute("SELECT count(*) FROM eventbook_events").fetchone()[0]
        assert stored == events[-1].position.minor  # its own events are in, later ones not
        seen.append([(e.stream, e.version, e.position.minor) for e in events])

    events = [copied(f"i-{n % 3}", n // 3 + 1, n) for n in range(7)]
    await store.import_events(events)  # no hook: every row in one go
    assert [(e.id, e.stream, e.version) for e in await collect(store.read_all())] == [
        (e.id, e.stream, e.version) for e in events
    ]
    store.add_append_hook(hook)
    more = [copied("j-1", 1, 7), copied("j-1", 2, 8), copied("i-0", 4, 9)]
    await store.import_events(more)
    assert seen == [[("j-1", 1, 8), ("j-1", 2, 9)], [("i-0", 4, 10)]]


# -- durability, reopening, positions ------------------------------------------------------------


async def test_an_append_costs_the_same_however_long_its_stream(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The expected-version check probes a stream's newest version; it never reads the
    stream's other events. Counted in SQLite virtual-machine steps, not timed."""
    steps: list[int] = []
    real = sqlite_worker.commit_group

    def counted(connection: sqlite3.Connection, jobs: Sequence[AppendJob], hooks: Any) -> bool:
        with counting_steps(connection) as taken:
            committed = real(connection, jobs, hooks)
        steps.append(taken.count)
        return committed

    monkeypatch.setattr(sqlite_worker, "commit_group", counted)
    async with await SQLiteEventStore.open(path) as store:
        await store.append("short-1", [new()])
        for n in range(4):
            await store.append("long-1", [new(n) for _ in range(1000)])
        steps.clear()
        await store.append("short-1", [new()], expected=1)
        await store.append("long-1", [new()], expected=4000)
    short, long = steps
    assert long < short + 100, steps


async def test_reopening_keeps_everything(path: Path) -> None:
    async with await SQLiteEventStore.open(path) as store:
        first = await store.append("o-1", [new(1), new(2)])
        await store.save_snapshot("o-1", 2, {"n": 2}, schema="S:1")
    async with await SQLiteEventStore.open(path) as store:
        assert await store.head() == first.position
        assert (await store.append("o-1", [new(3)], expected=2)).version == 3
        events = await collect(store.read_stream("o-1"))
        assert [e.data["n"] for e in events] == [1, 2, 3]
        assert all(e.recorded_at.utcoffset() == timedelta(0) for e in events)
        snapshot = await store.load_snapshot("o-1", schema="S:1")
        assert snapshot is not None
        assert snapshot.state == {"n": 2}


async def test_any_json_round_trips_through_the_document(store: SQLiteEventStore) -> None:
    data = {"nul": "a\u0000b", "big": 1.5e300, "tiny": 5e-324, "int": 2**62, "quote": '"}{'}
    new_event = NewEvent('Odd"Type', data, {"nested": {"\u0000": [None, True]}})
    await store.append('s-"quoted"\\', [new_event])
    (stored,) = await collect(store.read_all())
    assert (stored.stream, stored.type) == ('s-"quoted"\\', 'Odd"Type')
    assert stored.data == data
    assert stored.metadata == {"nested": {"\u0000": [None, True]}}
    assert await store.read_event(new_event.id) == stored


async def test_positions_are_never_reused(path: Path) -> None:
    async with await SQLiteEventStore.open(path) as store:
        await store.append("p-1", [new(1), new(2), new(3)])
    with sqlite3.connect(path) as raw:  # as a later truncation feature might
        raw.execute("DELETE FROM eventbook_events WHERE position > 1")
    async with await SQLiteEventStore.open(path) as store:
        result = await store.append("p-2", [new(4)])
        assert result.position == Position(0, 4)


async def test_a_held_write_lock_makes_writes_unavailable_then_they_recover(path: Path) -> None:
    async with await SQLiteEventStore.open(path, busy_timeout=50) as store:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(UnavailableError, match="busy_timeout"):
                await store.append("l-1", [new()])
            with pytest.raises(UnavailableError, match="the snapshot was not saved"):
                await store.save_snapshot("l-1", 1, {"n": 1}, schema="S:1")
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert (await store.append("l-1", [new()])).version == 1
        await store.save_snapshot("l-1", 1, {"n": 1}, schema="S:1")


async def test_readers_do_not_wait_for_the_writer(path: Path) -> None:
    async with await SQLiteEventStore.open(path, busy_timeout=50) as store:
        await store.append("w-1", [new()])
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        blocker.execute("INSERT INTO eventbook_snapshots VALUES ('z', 's', 1, '{}', 'now')")
        try:
            assert len(await collect(store.read_all())) == 1  # WAL: reads go on
            assert await store.stream_version("w-1") == 1
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()


# -- reading ahead never serves stale data -------------------------------------------------------


async def test_sequential_reads_see_commits_from_other_connections(path: Path) -> None:
    async with (
        await SQLiteEventStore.open(path) as reader,
        await SQLiteEventStore.open(path) as writer,
    ):
        reader.read_page_size = 4
        await writer.append("s-1", [new(n) for n in range(10)])
        seen = await collect(reader.read_all())
        assert len(seen) == 10
        page = await reader.read_all_page(after=seen[-1].position, limit=4)
        assert page == []
        await writer.append("s-1", [new(n) for n in range(10, 13)])
        page = await reader.read_all_page(after=seen[-1].position, limit=4)
        assert [e.data["n"] for e in page] == [10, 11, 12]
        forwards = await collect(reader.read_stream("s-1", from_version=9))
        assert [e.version for e in forwards] == [9, 10, 11, 12, 13]
        backwards = await collect(reader.read_stream("s-1", backwards=True))
        assert [e.version for e in backwards] == list(range(13, 0, -1))


async def test_long_reads_interleaved_with_appends(store: SQLiteEventStore) -> None:
    store.read_page_size = 16
    await store.append("big-1", [new(n) for n in range(3000)])
    await store.append("other-1", [new(n, "Other") for n in range(500)])
    seen = []
    async for e in store.read_all(types=["Happened"]):
        seen.append(e.data["n"])
        if len(seen) % 700 == 0:
            await store.append("big-1", [new(len(seen) + 10_000)])
    assert seen[:3000] == list(range(3000))
    assert len(seen) == 3004
    versions = [e.version async for e in store.read_stream("big-1", from_version=2990)]
    assert versions == list(range(2990, 3005))


_AHEAD_CASES = {
    # Reader threads: each fetch of a whole chunk is followed by the next one at once,
    # twice as large, up to 4,096 rows.
    "threads": (
        {"fetch_ahead": True},
        [(0, 64), (64, 1024), (1088, 2048), (3136, 4096), (7000, 4096), (7000, 4096)],
    ),
    # Reads on the loop's thread: a fetch only when the buffer runs short, 1,024 at most.
    "loop": (
        {"fetch_ahead": False, "most": 1024},
        [(0, 64), *((64 + 1024 * n, 1024) for n in range(7)), (7000, 1024), (7000, 1024)],
    ),
}


@pytest.mark.parametrize("case", sorted(_AHEAD_CASES))
async def test_read_ahead_fetches_more_the_longer_a_reader_reads(case: str) -> None:
    from eventbook._backends.sqlite.documents import SEPARATOR
    from eventbook._backends.sqlite.readahead import ReadAhead
    from eventbook._backends.sqlite.reads import Chunk

    options, expected_fetches = _AHEAD_CASES[case]
    table: list[tuple[int, bytes]] = []
    async with await SQLiteEventStore.open(":memory:") as source:
        await source.append("ra-1", [new(n) for n in range(7000)])
        async for e in source.read_all():
            table.append((e.position.minor, msgspec.json.encode(e)))
    asked: list[tuple[int, int]] = []

    def fetch(cursor: int, count: int) -> asyncio.Future[Chunk]:
        asked.append((cursor, count))
        rows = [row for row in table if row[0] > cursor][:count]
        documents = SEPARATOR.join(document for _, document in rows)
        future: asyncio.Future[Chunk] = asyncio.get_running_loop().create_future()
        future.set_result((documents, len(rows), rows[-1][0]) if rows else (None, 0, None))
        return future

    def position(event: RecordedEvent) -> int:
        return event.position.minor

    ahead = ReadAhead(**options)  # type: ignore[arg-type]
    cursor, seen = 0, 0
    while True:
        page = await ahead.page("all", cursor, 64, fetch, position, lambda key: key)
        seen += len(page)
        if not page:
            break
        assert [position(e) for e in page] == list(range(cursor + 1, cursor + 1 + len(page)))
        cursor = page[-1].position.minor
    assert seen == 7000
    # A short chunk never stands for "the end": the reader looks for more before it serves
    # a short page, and once more before the empty one.
    assert asked == expected_fetches
    asked.clear()
    assert len(await ahead.page("again", 0, 64, fetch, position, lambda key: key, 1024)) == 64
    assert asked[0] == (0, 1024)  # a read expected to go on fetches ahead from the start
    # the end of the data moves: a reader at the end asks again, and gets the new rows
    newest = msgspec.json.decode(table[-1][1], type=RecordedEvent)
    table.append(
        (7001, msgspec.json.encode(msgspec.structs.replace(newest, position=Position(0, 7001))))
    )
    assert len(await ahead.page("all", 7000, 64, fetch, position, lambda key: key)) == 1
    assert await ahead.page("other", 0, 10, fetch, position, lambda key: key) != []


# -- other connections and processes -----------------------------------------------------------


async def test_a_subscriber_sees_appends_made_through_another_store(path: Path) -> None:
    async with (
        await SQLiteEventStore.open(path, watch_interval=0.02) as watching,
        await SQLiteEventStore.open(path) as writing,
    ):
        watching.poll_interval = 60.0  # only the watcher can wake it in time
        received = asyncio.create_task(_take(watching, 3))
        await asyncio.sleep(0.05)
        for n in range(3):
            await writing.append("sub-1", [new(n)])
        events = await asyncio.wait_for(received, 5)
        assert [e.data["n"] for e in events] == [0, 1, 2]


async def test_closing_while_subscribers_wait_stops_them(path: Path) -> None:
    for _ in range(10):
        store = await SQLiteEventStore.open(path, watch_interval=0.001)
        waiting = [asyncio.create_task(_take(store, 1)) for _ in range(3)]
        await asyncio.sleep(0.01)  # the watcher is polling
        await asyncio.wait_for(store.close(), 5)
        for task in waiting:
            with pytest.raises(StoreClosed):
                await asyncio.wait_for(task, 5)


def _append_in_child(url: str, stream: str, count: int) -> None:
    """Runs in another process."""

    async def run() -> None:
        async with await connect(url) as store:
            for n in range(count):
                await store.append(stream, [NewEvent("FromChild", {"n": n})])
                await asyncio.sleep(0.01)

    asyncio.run(run())


async def test_a_subscriber_sees_appends_from_another_process(path: Path) -> None:
    url = f"sqlite:///{path}"
    async with await SQLiteEventStore.open(path) as store:
        received = asyncio.create_task(_take(store, 5))
        await asyncio.sleep(0.05)
        context = multiprocessing.get_context("spawn")
        child = context.Process(target=_append_in_child, args=(url, "child-1", 5))
        child.start()
        try:
            events = await asyncio.wait_for(received, 30)
        finally:
            await asyncio.get_running_loop().run_in_executor(None, child.join, 30)
        assert child.exitcode == 0
        assert [(e.type, e.data["n"]) for e in events] == [("FromChild", n) for n in range(5)]


def _racing_process(url: str, tag: int) -> list[str]:
    """Runs in another process: 4 tasks append with expected versions to shared streams."""

    async def task(store: EventStore, lane: int) -> list[str]:
        ids = []
        for n in range(12):
            stream = f"shared-{(lane + n) % 3}"
            batch = [
                NewEvent("Raced", {"tag": tag, "lane": lane, "n": n}) for _ in range(n % 3 + 1)
            ]
            while True:
                version = await store.stream_version(stream)
                try:
                    await store.append(stream, batch, expected=version)
                    break
                except ConcurrencyError:
                    await asyncio.sleep(0)
            ids.extend(str(e.id) for e in batch)
        return ids

    async def run() -> list[str]:
        async with await connect(url) as store:
            written = await asyncio.gather(*(task(store, lane) for lane in range(4)))
        return [i for ids in written for i in ids]

    return asyncio.run(run())


async def test_processes_racing_on_shared_streams_lose_and_repeat_nothing(path: Path) -> None:
    url = f"sqlite:///{path}?synchronous=NORMAL"
    async with await connect(url) as store:
        context = multiprocessing.get_context("spawn")
        loop = asyncio.get_running_loop()
        with context.Pool(3) as pool:
            jobs = [
                loop.run_in_executor(None, pool.apply, _racing_process, (url, tag))
                for tag in range(3)
            ]
            written = [i for ids in await asyncio.gather(*jobs) for i in ids]
        everything = await collect(store.read_all())
        assert sorted(str(e.id) for e in everything) == sorted(written)
        assert [e.position.minor for e in everything] == list(range(1, len(written) + 1))
        for n in range(3):
            versions = [e.version for e in everything if e.stream == f"shared-{n}"]
            assert versions == list(range(1, len(versions) + 1))
        batches: dict[tuple[int, int, int], list[RecordedEvent]] = {}
        for e in everything:
            batches.setdefault((e.data["tag"], e.data["lane"], e.data["n"]), []).append(e)
        for (_, _, n), events in batches.items():  # each batch stored whole, in one block
            assert len(events) == n % 3 + 1
            assert len({e.stream for e in events}) == 1
            first = events[0]
            assert [(e.position.minor, e.version) for e in events] == [
                (first.position.minor + k, first.version + k) for k in range(len(events))
            ]


async def _take(store: EventStore, count: int) -> list[RecordedEvent]:
    taken: list[RecordedEvent] = []
    async for e in store.subscribe():
        taken.append(e)
        if len(taken) == count:
            break
    return taken
