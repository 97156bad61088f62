"""The PostgreSQL event store: the shared contract, then what is particular to it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from eventbook._backends.postgres import PostgresEventStore
from eventbook._backends.postgres.jsonb import preserve_floats
from eventbook._backends.postgres.migrations import latest_version
from eventbook._backends.postgres.options import parse_url
from eventbook._backends.postgres.sql import Queries
from eventbook._errors import SchemaVersionError, UnavailableError, ValidationError
from eventbook._store.ids import uuid7
from eventbook._store.types import NewEvent, RecordedEvent
from eventbook.testing import EventStoreConformance
from tests.conftest import PostgresForTests, drop_schema, new_schema_name
from tests.servers.postgres import free_port


class TestPostgresStore(EventStoreConformance):
    @pytest.fixture
    def store_url(self, postgres: PostgresForTests, postgres_schema: str) -> str:
        return postgres.store_url(postgres_schema)


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def url(postgres: PostgresForTests, postgres_schema: str) -> str:
    return postgres.store_url(postgres_schema)


@pytest_asyncio.fixture
async def raw(postgres: PostgresForTests) -> AsyncIterator[asyncpg.Connection[Any]]:
    """A plain driver connection, for what the store never does (hold a transaction open)."""
    connection: asyncpg.Connection[Any] = await asyncpg.connect(postgres.url)
    yield connection
    await connection.close()


@pytest_asyncio.fixture
async def store(url: str) -> AsyncIterator[PostgresEventStore]:
    async with await PostgresEventStore.open(url) as opened:
        yield opened


async def collect(events: AsyncIterator[RecordedEvent]) -> list[RecordedEvent]:
    return [e async for e in events]


async def append_in_open_transaction(
    raw: asyncpg.Connection[Any], schema: str, stream: str
) -> asyncpg.transaction.Transaction:
    """Start a transaction on `raw` that appends one event and stays open."""
    transaction = raw.transaction()
    await transaction.start()
    row = await raw.fetchrow(
        Queries(schema).append, stream, -1, [uuid7()], ["Early"], ['{"early": true}'], ["{}"]
    )
    assert row is not None
    assert row[0] == 1  # appended as version 1
    return transaction


async def lock_waiter(raw: asyncpg.Connection[Any], application: str) -> int:
    """The pid of the backend of `application` once it waits for a lock."""
    for _ in range(500):
        pid = await raw.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1"
            " AND wait_event_type = 'Lock'",
            application,
        )
        if pid is not None:
            return int(pid)
        await asyncio.sleep(0.01)
    raise AssertionError(f"{application} never waited for a lock")


async def until(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


# -- migrations ------------------------------------------------------------------------------


async def ledger(raw: asyncpg.Connection[Any], schema: str) -> list[int]:
    rows = await raw.fetch(f'SELECT version FROM "{schema}".schema_migrations ORDER BY 1')
    return [row[0] for row in rows]


async def test_opening_applies_every_migration_once(
    url: str, raw: asyncpg.Connection[Any], postgres_schema: str
) -> None:
    for _ in range(2):
        store = await PostgresEventStore.open(url)
        await store.close()
    assert await ledger(raw, postgres_schema) == list(range(1, latest_version() + 1))
    tables = await raw.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
        postgres_schema,
    )
    assert [t[0] for t in tables] == [
        "events",
        "personal_keys",
        "schema_migrations",
        "snapshots",
        "streams",
    ]


async def test_without_migrate_an_old_schema_is_refused_until_migrated(url: str) -> None:
    with pytest.raises(SchemaVersionError, match="migrate"):
        await PostgresEventStore.open(url, migrate=False)
    with pytest.raises(SchemaVersionError, match="migrate"):
        await PostgresEventStore.open(f"{url}&migrate=false")
    assert await PostgresEventStore.migrate(url) == list(range(1, latest_version() + 1))
    assert await PostgresEventStore.migrate(url) == []
    async with await PostgresEventStore.open(url, migrate=False) as store:
        await store.append("m-1", [NewEvent("Happened", {})])


async def test_a_schema_of_version_1_is_upgraded_for_the_stream_lifecycle(
    url: str, raw: asyncpg.Connection[Any], postgres_schema: str
) -> None:
    async with await PostgresEventStore.open(url) as store:
        await store.append("m-1", [NewEvent("Happened", {})])
    # Back to what eventbook with only migration 1 left behind: no streams table.
    await raw.execute(f'DROP TABLE "{postgres_schema}".streams')
    await raw.execute(f'DELETE FROM "{postgres_schema}".schema_migrations WHERE version > 1')
    with pytest.raises(SchemaVersionError, match=r"lacks migration\(s\) \[2"):
        await PostgresEventStore.open(url, migrate=False)
    assert await PostgresEventStore.migrate(url) == list(range(2, latest_version() + 1))
    async with await PostgresEventStore.open(url, migrate=False) as store:
        await store.delete_stream("m-1", expected=1)
        assert (await store.stream_state("m-1")).deleted


async def test_concurrent_migrators_apply_each_migration_once(
    url: str, raw: asyncpg.Connection[Any], postgres_schema: str
) -> None:
    # Eight sessions open a new schema at the same moment; the advisory lock lets one
    # migrate, the others wait for it and find nothing left to do.
    stores = await asyncio.gather(*(PostgresEventStore.open(url, pool_size=1) for _ in range(8)))
    try:
        await asyncio.gather(
            *(s.append(f"s-{n}", [NewEvent("A", {})]) for n, s in enumerate(stores))
        )
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    assert await ledger(raw, postgres_schema) == list(range(1, latest_version() + 1))


async def test_a_newer_schema_is_refused(
    url: str, raw: asyncpg.Connection[Any], postgres_schema: str
) -> None:
    await PostgresEventStore.migrate(url)
    await raw.execute(
        f'INSERT INTO "{postgres_schema}".schema_migrations (version, name, checksum)'
        " VALUES (999, 'from_the_future', 'x')"
    )
    for migrate in (True, False):
        with pytest.raises(SchemaVersionError, match="newer than this eventbook"):
            await PostgresEventStore.open(url, migrate=migrate)
    with pytest.raises(SchemaVersionError):
        await PostgresEventStore.migrate(url)


async def test_a_schema_migrated_from_other_files_is_refused(
    url: str, raw: asyncpg.Connection[Any], postgres_schema: str
) -> None:
    await PostgresEventStore.migrate(url)
    await raw.execute(f"UPDATE \"{postgres_schema}\".schema_migrations SET checksum = 'other'")
    with pytest.raises(SchemaVersionError, match="different file"):
        await PostgresEventStore.open(url)


async def test_schemas_keep_bounded_contexts_apart(postgres: PostgresForTests) -> None:
    first, second = new_schema_name(), new_schema_name()
    try:
        async with (
            await PostgresEventStore.open(postgres.store_url(first), poll_interval=30) as orders,
            await PostgresEventStore.open(postgres.store_url(second)) as billing,
        ):
            subscription = orders.subscribe()
            woken = asyncio.create_task(anext(subscription))
            await until(lambda: orders.listening)
            await billing.append("invoice-1", [NewEvent("Invoiced", {})])
            await orders.append("order-1", [NewEvent("Placed", {})])
            assert (await asyncio.wait_for(woken, 5)).stream == "order-1"
            await subscription.aclose()  # type: ignore[attr-defined]
            assert [e.stream for e in await collect(orders.read_all())] == ["order-1"]
            assert [e.stream for e in await collect(billing.read_all())] == ["invoice-1"]
            assert await orders.stream_version("invoice-1") == 0
    finally:
        for schema in (first, second):
            await drop_schema(postgres.url, schema)


# -- the ordering horizon --------------------------------------------------------------------


async def test_an_open_transaction_holds_later_commits_back(
    store: PostgresEventStore, raw: asyncpg.Connection[Any], postgres_schema: str
) -> None:
    early = await append_in_open_transaction(raw, postgres_schema, "early-1")
    late = await store.append("late-1", [NewEvent("Late", {})])
    # The late event is committed, but showing it now would let the early one appear
    # before it afterwards: readers must not see it yet.
    assert await collect(store.read_all()) == []
    assert await store.head() is None
    assert (await store.read_event((await collect(store.read_stream("late-1")))[0].id)) is not None
    lag = await store.ordering_lag()
    assert lag.held_back_events == 1
    assert lag.held_back_seconds >= 0
    assert lag.holder_pid == raw.get_server_pid()
    assert lag.holder_state == "idle in transaction"
    assert lag.holder_seconds is not None
    assert lag.holder_seconds >= 0
    assert lag.horizon <= late.position.major
    assert lag.transactions_behind >= 2

    await early.commit()
    seen = await collect(store.read_all())
    assert [e.type for e in seen] == ["Early", "Late"]
    assert seen[0].position < seen[1].position == late.position
    assert await store.head() == late.position
    after = await store.ordering_lag()
    assert (after.held_back_events, after.held_back_seconds) == (0, 0)


async def test_a_subscriber_held_back_by_any_transaction_catches_up_when_it_ends(
    url: str, raw: asyncpg.Connection[Any]
) -> None:
    async with await PostgresEventStore.open(url, poll_interval=30) as store:
        holder = raw.transaction()
        await holder.start()
        await raw.fetchval("SELECT pg_current_xact_id()")  # holds an id, never appends
        got: list[RecordedEvent] = []
        subscription = store.subscribe()
        reading = asyncio.create_task(anext(subscription))
        await store.append("held-1", [NewEvent("Held", {})])
        await asyncio.sleep(0.3)
        assert not reading.done()
        await holder.commit()
        # No NOTIFY follows the end of a transaction that did not append; the subscriber
        # sees the held-back event and looks again soon, not after poll_interval.
        got.append(await asyncio.wait_for(reading, 10))
        await subscription.aclose()  # type: ignore[attr-defined]
        assert [e.type for e in got] == ["Held"]


# -- wake-ups --------------------------------------------------------------------------------


async def test_notify_wakes_a_subscriber_of_another_connection(url: str) -> None:
    async with (
        await PostgresEventStore.open(url, poll_interval=30) as reader,
        await PostgresEventStore.open(url, poll_interval=30) as writer,
    ):
        subscription = reader.subscribe()
        first = asyncio.create_task(anext(subscription))
        await until(lambda: reader.listening)
        await writer.append("w-1", [NewEvent("Woken", {})])
        assert (await asyncio.wait_for(first, 5)).type == "Woken"
        await subscription.aclose()  # type: ignore[attr-defined]


async def test_the_wake_up_connection_comes_back_after_it_is_lost(
    url: str, raw: asyncpg.Connection[Any]
) -> None:
    async with (
        await PostgresEventStore.open(url, poll_interval=30, application_name="woken") as reader,
        await PostgresEventStore.open(url, poll_interval=30) as writer,
    ):
        subscription = reader.subscribe()
        first = asyncio.create_task(anext(subscription))
        await until(lambda: reader.listening)
        find = "SELECT pid FROM pg_stat_activity WHERE application_name = 'woken:signals'"
        lost = await raw.fetchval(find)
        await raw.execute("SELECT pg_terminate_backend($1)", lost)
        for _ in range(500):
            back = await raw.fetchval(find)
            if back not in (None, lost) and reader.listening:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the wake-up connection did not come back")
        await writer.append("w-1", [NewEvent("Woken", {})])
        assert (await asyncio.wait_for(first, 5)).type == "Woken"
        await subscription.aclose()  # type: ignore[attr-defined]


# -- failures --------------------------------------------------------------------------------


async def test_pool_exhaustion_waits_then_fails_clearly(
    url: str, raw: asyncpg.Connection[Any], postgres_schema: str
) -> None:
    async with await PostgresEventStore.open(
        url, pool_size=1, pool_timeout=0.3, application_name="tiny"
    ) as store:
        holder = await append_in_open_transaction(raw, postgres_schema, "busy-1")
        blocked = asyncio.create_task(store.append("busy-1", [NewEvent("Blocked", {})]))
        await lock_waiter(raw, "tiny")  # the pool's only connection is now busy
        started = time.monotonic()
        with pytest.raises(UnavailableError, match="connections of the pool stayed busy"):
            await store.stream_version("other-1")
        assert 0.25 <= time.monotonic() - started < 5
        await holder.rollback()
        assert (await blocked).version == 1


async def test_a_connection_dropped_mid_append_writes_nothing(
    url: str, raw: asyncpg.Connection[Any], postgres_schema: str
) -> None:
    async with await PostgresEventStore.open(url, application_name="dropped") as store:
        batch = [NewEvent("Dropped", {"n": n}) for n in range(3)]
        holder = await append_in_open_transaction(raw, postgres_schema, "drop-1")
        appending = asyncio.create_task(store.append("drop-1", batch))
        pid = await lock_waiter(raw, "dropped")  # inside the append, after its first checks
        await raw.execute("SELECT pg_terminate_backend($1)", pid)
        with pytest.raises(UnavailableError, match="same event ids is safe"):
            await appending
        await holder.rollback()
        assert await store.stream_version("drop-1") == 0
        assert await collect(store.read_all()) == []
        # The pool recovers, and the retried batch lands once.
        assert (await store.append("drop-1", batch)).version == 3
        assert (await store.append("drop-1", batch)).version == 3


async def test_an_unreachable_server_is_unavailable() -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(UnavailableError, match="connect to PostgreSQL"):
        await PostgresEventStore.open(url, connect_timeout=2)


# -- values ----------------------------------------------------------------------------------


async def test_floats_survive_jsonb_exactly(store: PostgresEventStore) -> None:
    data = {
        "huge": 1.5e300,
        "big": 1e16,
        "odd": 1.2345678901234568e17,
        "negative": -2.5e20,
        "tiny": 5e-324,
        "small": 1e-7,
        "int": 10**18,
        "nested": [{"x": 1e22, "y": 3.0}],
        "text": "1e5 and 2E9 stay text",
    }
    await store.append("f-1", [NewEvent("Floats", data, {"m": 1e300})])
    await store.append("f-2", [NewEvent("Plain", {"n": 1}), NewEvent("Floats", data, {"m": 1e300})])
    (single,) = await collect(store.read_stream("f-1"))
    _, batched = await collect(store.read_stream("f-2"))
    for recorded in (single, batched):
        assert recorded.data == data
        assert recorded.metadata == {"m": 1e300}
        assert type(recorded.data["huge"]) is float
        assert type(recorded.data["int"]) is int
    await store.save_snapshot("f-1", 1, {"total": 1e300}, schema="S:1")
    snapshot = await store.load_snapshot("f-1", schema="S:1")
    assert snapshot is not None
    assert snapshot.state == {"total": 1e300}


def test_hex_in_strings_takes_the_fast_path_and_exponents_do_not() -> None:
    plain = b'{"correlation":"0190a1b2-3e41-7e4f-8a9b-1e5d2e3f4a5b","n":1.5}'
    assert preserve_floats(plain) is plain  # not decoded and encoded again
    assert preserve_floats(b'{"big":1e16}') == b'{"big":10000000000000000.0}'
    assert preserve_floats(b'{"l":[-2.5e20]}') == b'{"l":[-250000000000000000000.0]}'


async def test_a_nul_character_is_refused_and_writes_nothing(store: PostgresEventStore) -> None:
    with pytest.raises(ValidationError, match="cannot store"):
        await store.append("n-1", [NewEvent("A", {}), NewEvent("B", {"text": "a\x00b"})])
    assert await store.head() is None
    assert await store.stream_version("n-1") == 0


# -- options ---------------------------------------------------------------------------------


def test_url_options_and_keywords() -> None:
    dsn, options = parse_url(
        "postgresql://u@db:5432/app?schema=orders&pool_size=3&migrate=off&sslmode=disable",
        {"pool_timeout": 2},
    )
    assert dsn == "postgresql://u@db:5432/app?sslmode=disable"
    assert (options.schema, options.pool_size, options.migrate, options.pool_timeout) == (
        "orders",
        3,
        False,
        2,
    )


@pytest.mark.parametrize(
    ("url", "keywords"),
    [
        ("postgresql://h/db?pool_size=0", {}),
        ("postgresql://h/db?pool_size=many", {}),
        ("postgresql://h/db?migrate=maybe", {}),
        ("postgresql://h/db?schema=Bad-Name", {}),
        ("postgresql://h/db", {"pool": 3}),
        ("postgresql://h/db", {"pool_timeout": -1}),
        ("postgresql://h/db", {"pool_min_size": 5, "pool_size": 2}),
        ("postgresql://h/db?statement_timeout=nan", {}),
        ("postgresql://h/db?poll_interval=inf", {}),
        ("postgresql://h/db?statement_timeout=1e-9", {}),  # 0 ms would mean "no limit"
    ],
)
def test_bad_options_are_refused(url: str, keywords: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        parse_url(url, keywords)
