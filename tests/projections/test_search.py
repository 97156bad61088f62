"""Full-text search read models: SQLite FTS5 and PostgreSQL tsvector + GIN, ranked."""

from __future__ import annotations

from eventbook._backends.memory import MemoryEventStore
from eventbook._store.types import NewEvent, Position, RecordedEvent
from eventbook.projections import (
    HandlerMap,
    Projection,
    ProjectionDaemon,
    ProjectionDatabase,
    RunnerSettings,
    SearchBatch,
    SearchSink,
    drop_build,
    rebuild,
    switch_to,
    wait_for,
)

FAST = RunnerSettings(batch_size=50, poll_interval=0.05, lease_ttl=2.0)


def order_search(database: ProjectionDatabase, version: int = 1) -> Projection[SearchBatch]:
    sink = SearchSink(database, index="order_search", fields={"customer": 4.0, "items": 1.0})
    handlers: HandlerMap[SearchBatch] = HandlerMap()

    @handlers.on("OrderPlaced")
    def placed(event: RecordedEvent, batch: SearchBatch) -> None:
        fields = {"customer": event.data["customer"], "items": " ".join(event.data["items"])}
        batch.index(event.stream, fields, data={"total": event.data["total"]})

    @handlers.on("CustomerRenamed")
    def renamed(event: RecordedEvent, batch: SearchBatch) -> None:
        batch.index(
            event.stream, {"customer": event.data["customer"], "items": event.data["items"]}
        )

    @handlers.on("OrderCancelled")
    def cancelled(event: RecordedEvent, batch: SearchBatch) -> None:
        batch.remove(event.stream)

    return Projection("order_search", sink, handlers, version=version)


async def fill(store: MemoryEventStore) -> None:
    orders = [
        ("order-1", "Ada Lovelace", ["analytical engine", "punch cards"], 120),
        ("order-2", "Charles Babbage", ["difference engine", "ada's notes"], 80),
        ("order-3", "Grace Hopper", ["compiler", "nanosecond wire"], 15),
        ("order-4", "Alan Turing", ["enigma rotor"], 40),
    ]
    for stream, customer, items, total in orders:
        data = {"customer": customer, "items": items, "total": total}
        await store.append(stream, [NewEvent("OrderPlaced", data)])


async def test_search_ranks_weighted_fields_and_matches_prefixes(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    projection = order_search(database)
    await fill(memory_store)
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await wait_for(projection, await memory_store.head() or Position(0, 0), 5)
    sink = projection.sink
    hits = await sink.search("ada")
    # Ada in the customer name (weight 4) beats "ada's" among the items (weight 1).
    assert [h.doc_id for h in hits] == ["order-1", "order-2"]
    assert hits[0].score > hits[1].score > 0
    assert hits[0].data == {"total": 120}
    assert [h.doc_id for h in await sink.search("engine lovel")] == ["order-1"]  # all terms
    assert [h.doc_id for h in await sink.search("ENGINE")] == ["order-1", "order-2"]
    assert await sink.search("lovel", prefix=False) == []
    assert await sink.search("  ;;; ") == []
    assert [h.doc_id for h in await sink.search("hopper", limit=1)] == ["order-3"]


async def test_both_databases_find_words_inside_addresses_numbers_and_accented_names(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    """PostgreSQL's parser keeps an e-mail address, a URL or "3.14" as one token and tells
    accented letters apart; text is indexed as words without accents, so a query finds
    what it finds on SQLite."""
    orders = [
        ("order-1", "ada@example.com", ["pi is 3.14", "see http://example.org/manual/page"]),
        ("order-2", "Café Müller", ["ÉCOLE straße"]),
    ]
    for stream, customer, items in orders:
        data = {"customer": customer, "items": items, "total": 1}
        await memory_store.append(stream, [NewEvent("OrderPlaced", data)])
    projection = order_search(database)
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await wait_for(projection, await memory_store.head() or Position(0, 0), 5)
    sink = projection.sink
    for query in ("ada@example.com", "example", "3.14", "3.1", "example.org", "manual"):
        assert [h.doc_id for h in await sink.search(query)] == ["order-1"], query
    for query in ("cafe", "café", "MULLER", "ecole", "straße"):
        assert [h.doc_id for h in await sink.search(query)] == ["order-2"], query


async def test_reindexing_replaces_and_removing_deletes(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    projection = order_search(database)
    await fill(memory_store)
    await memory_store.append(
        "order-3",
        [NewEvent("CustomerRenamed", {"customer": "Rear Admiral Hopper", "items": "cobol"})],
    )
    await memory_store.append("order-4", [NewEvent("OrderCancelled", {})])
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await wait_for(projection, await memory_store.head() or Position(0, 0), 5)
    sink = projection.sink
    assert [h.doc_id for h in await sink.search("admiral cobol")] == ["order-3"]
    assert await sink.search("compiler") == []  # the old text is gone from the index
    assert await sink.search("turing") == []


async def test_a_search_index_rebuilds_and_switches_builds(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    blue = order_search(database, version=1)
    await fill(memory_store)
    await rebuild(memory_store, blue)
    before = await blue.sink.search("engine")
    await rebuild(memory_store, blue)
    assert await blue.sink.search("engine") == before
    green = order_search(database, version=2)
    async with ProjectionDaemon(memory_store, [blue, green], settings=FAST):
        await switch_to(memory_store, green, timeout=10)
        assert await green.sink.search("engine") == before
    await drop_build(blue)
    assert await green.sink.search("engine") == before
