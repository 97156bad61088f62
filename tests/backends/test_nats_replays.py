"""The NATS store telling an exact retry from a reuse of stored ids: identical appends
racing, and lookups that a replica behind the leader must not answer.

A follower serves direct gets while behind (servers ignore `min_last_seq`: see
`eventbook._backends.nats.leader`), and on a loopback cluster it is rarely behind for
long, so the lagging replica is played here by a reader that answers from before a write
or a removal; the store's answers must not depend on it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import nats
import pytest
import pytest_asyncio

from eventbook._backends.nats.direct import DirectReader, sequence_of
from eventbook._backends.nats.replays import Found, partly_seen_copy
from eventbook._backends.nats.retry import Retryable
from eventbook._backends.nats.store import NatsEventStore
from eventbook._backends.nats.subjects import Subjects
from eventbook._connect import connect
from eventbook._errors import ConcurrencyError, DuplicateEventError
from eventbook._store.ids import uuid7
from eventbook._store.types import (
    ANY,
    EncodedBatch,
    EncodedEvent,
    NewEvent,
    Position,
    RecordedEvent,
)
from tests.backends.test_nats import drop_streams, new_stream_name
from tests.servers.nats import NatsCluster


@pytest_asyncio.fixture
async def store(nats_cluster: NatsCluster) -> AsyncIterator[NatsEventStore]:
    name = new_stream_name()
    try:
        async with await connect(nats_cluster.url(stream=name, replicas="3")) as opened:
            assert isinstance(opened, NatsEventStore)
            yield opened
    finally:
        await drop_streams(nats_cluster, name)


def ids_subject(store: NatsEventStore) -> str:
    return Subjects(store.options.stream).ids_all[:-1]  # "<stream>.i."


# -- the server ------------------------------------------------------------------------------


async def test_the_server_ignores_min_last_seq_so_a_replica_may_answer_from_behind(
    nats_cluster: NatsCluster, store: NatsEventStore
) -> None:
    """The reason the id lookups go to the leader: a direct get asking for a stream far
    longer than it is was still answered, at once, instead of being refused or handed on."""
    await store.append("order-1", [NewEvent("E", {})])
    client = await nats.connect(nats_cluster.node_url(0))
    try:
        request = {"last_by_subj": f"{store.options.stream}.e.>", "min_last_seq": 10**12}
        reply = await client.request(
            f"$JS.API.DIRECT.GET.{store.options.stream}", json.dumps(request).encode(), timeout=5
        )
    finally:
        await client.close()
    assert (reply.headers or {}).get("Status") is None
    assert int((reply.headers or {})["Nats-Sequence"]) < 10**12


# -- a replica behind the leader ---------------------------------------------------------------


def behind(
    reader: DirectReader,
    last: Callable[[str], Awaitable[object]],
    at: Callable[[int], Awaitable[object]] | None = None,
) -> None:
    """Make `reader`'s direct gets answer as a replica behind the leader."""
    reader.last = last  # type: ignore[method-assign]
    if at is not None:
        reader.at = at  # type: ignore[method-assign]


async def test_a_retry_of_a_truncated_batch_is_judged_by_the_leader_not_a_replica_still_holding_it(
    store: NatsEventStore,
) -> None:
    batch = [NewEvent("Placed", {"n": 1}), NewEvent("Paid", {"n": 2})]
    await store.append("order-1", batch)
    await store.append("order-1", [NewEvent("Shipped", {}), NewEvent("Shipped", {})])
    # What a replica that has not applied the truncation's purges answers.
    reader = store._events
    prefix = ids_subject(store)
    markers = {e.id.hex: await reader.last(prefix + e.id.hex) for e in batch}
    stored = {seq: await reader.at(seq) for seq in range(1, 20)}
    assert all(markers.values())
    await store.truncate_stream("order-1", before=3)

    direct_last, direct_at = reader.last, reader.at

    async def stale_last(subject: str) -> object:
        if subject.startswith(prefix) and subject[len(prefix) :] in markers:
            return markers[subject[len(prefix) :]]
        return await direct_last(subject)

    async def stale_at(sequence: int) -> object:
        return stored.get(sequence) or await direct_at(sequence)

    behind(reader, stale_last, stale_at)
    # The batch's events are gone and its ids free: a retry expecting the stream new is
    # refused, not answered with the removed events' result.
    with pytest.raises(ConcurrencyError):
        await store.append("order-1", batch, expected=0)
    assert await store.read_event(batch[0].id) is None


async def test_read_event_finds_an_appended_event_that_a_replica_has_not_applied(
    store: NatsEventStore,
) -> None:
    reader = store._events
    prefix = ids_subject(store)
    direct_last = reader.last

    async def lagging(subject: str) -> object:
        return None if subject.startswith(prefix) else await direct_last(subject)

    behind(reader, lagging)
    events = [NewEvent("Placed", {}), NewEvent("Paid", {})]
    result = await store.append("order-1", events)
    found = await store.read_event(events[1].id)
    assert found is not None
    assert found.position == result.position
    # And an exact retry is recognised, not appended again nor refused.
    again = await asyncio.wait_for(store.append("order-1", events), 10)
    assert (again.version, again.position, again.replayed) == (2, result.position, True)


async def test_a_retry_whose_ids_are_looked_up_as_the_leader_applies_its_batch_replays(
    store: NatsEventStore,
) -> None:
    """The leader applies a batch whole, but between two of the retry's id lookups: the
    first id not found yet, the second found. The store looks again."""
    events = [NewEvent("Placed", {}), NewEvent("Paid", {})]
    first = await store.append("order-1", events)
    leader = store._events.leader
    leader_last = leader.last
    missed: list[str] = []

    async def first_lookup_too_early(subject: str) -> object:
        if subject.endswith(events[0].id.hex) and not missed:
            missed.append(subject)
            return None
        return await leader_last(subject)

    leader.last = first_lookup_too_early  # type: ignore[method-assign]
    again = await store.append("order-1", events)
    assert missed
    assert (again.version, again.position, again.replayed) == (2, first.position, True)


async def test_a_deletion_is_refused_only_by_the_leader_not_a_replica_behind_another_store(
    nats_cluster: NatsCluster, store: NatsEventStore
) -> None:
    """Seen in a stress run: a store's delete_stream right after another store's append
    to a new stream raised StreamNotFound (its replica had not applied the append)."""
    url = nats_cluster.url(stream=store.options.stream, replicas="3")
    async with await connect(url) as other:
        assert isinstance(other, NatsEventStore)
        subjects = Subjects(store.options.stream)
        unseen = {subjects.events(s) for s in ("cart-1", "cart-2")}
        direct_last = other._events.last

        async def lagging(subject: str) -> object:
            return None if subject in unseen else await direct_last(subject)

        behind(other._events, lagging)
        await store.append("cart-1", [NewEvent("Placed", {})])
        await store.append("cart-2", [NewEvent("Placed", {})])
        deleted = await other.delete_stream("cart-1", expected=1)
        assert deleted.position > Position(0, 0)
        assert await other.purge_stream("cart-2") is not None
    assert (await store.stream_state("cart-1")).deleted
    assert [e async for e in store.read_stream("cart-2")] == []


async def test_an_answer_from_before_this_stores_purge_is_asked_again(
    store: NatsEventStore,
) -> None:
    """A purge does not move the stream's last sequence, so the reader remembers what it
    purged: a message still there, below the purge, comes from a replica behind it."""
    result = await store.append("order-1", [NewEvent("E", {}), NewEvent("E", {})])
    reader = store._events
    subject = Subjects(store.options.stream).events("order-1")
    assert len(await reader.page(subject, 1, 10)) == 2
    # As if the server had purged the first event and this replica had not applied it.
    reader.purged(subject, result.position.minor)
    for read in (
        reader.page(subject, 1, 10),
        reader.page(Subjects(store.options.stream).events_all, 1, 10),
        reader.first_from(subject, 1),
    ):
        with pytest.raises(Retryable, match="before a purge"):
            await read
    # Messages at or above the purge are answers like any other.
    assert [sequence_of(m) for m in await reader.page(subject, result.position.minor, 10)] == [
        result.position.minor
    ]


# -- identical appends racing --------------------------------------------------------------------


def found(batch: EncodedBatch, number: int, version: int, sequence: int) -> Found:
    event = batch.events[number]
    stored = RecordedEvent(
        event.id, batch.stream, version, Position(0, sequence), "E", {}, {}, datetime.now(UTC)
    )
    return stored, len(batch.events)


def test_a_replay_waits_only_for_ids_found_where_one_copy_of_the_batch_puts_them() -> None:
    # A refused identical append looks its ids up one request each, and the leader may
    # apply the batch that stored them between two of the requests.
    batch = EncodedBatch(
        "order-1", ANY, tuple(EncodedEvent(uuid7(), "E", b"{}", b"{}", None) for _ in range(3))
    )
    assert partly_seen_copy(batch, [found(batch, 0, 1, 10)])
    assert partly_seen_copy(batch, [found(batch, 0, 1, 10), found(batch, 2, 3, 12)])
    # All found, none found: nothing to wait for.
    assert not partly_seen_copy(batch, [found(batch, n, n + 1, n + 10) for n in range(3)])
    assert not partly_seen_copy(batch, [])
    # Ids reused from other appends: another stream, an append of another size, or
    # places one copy cannot have.
    elsewhere = EncodedBatch("order-2", ANY, batch.events)
    assert not partly_seen_copy(elsewhere, [found(batch, 0, 1, 10)])
    event, _ = found(batch, 0, 1, 10)
    assert not partly_seen_copy(batch, [(event, 2)])
    assert not partly_seen_copy(batch, [found(batch, 0, 1, 10), found(batch, 2, 3, 20)])
    assert not partly_seen_copy(batch, [found(batch, 0, 4, 10), found(batch, 1, 1, 11)])


async def test_identical_appends_sent_at_once_after_removals_store_once_and_replay(
    store: NatsEventStore,
) -> None:
    for round_ in range(20):
        stream = f"retried-{round_}"
        await store.append(stream, [NewEvent("E", {}) for _ in range(3)])
        await store.truncate_stream(stream, before=3)
        await store.purge_stream(stream)
        events = [NewEvent("E", {"n": n, "pad": "x" * 200}) for n in range(2 + round_)]
        results = await asyncio.gather(*(store.append(stream, events) for _ in range(3)))
        assert sorted(r.replayed for r in results) == [False, True, True]
        assert len({(r.version, r.position) for r in results}) == 1
    # Ids reused from an earlier append are still refused at once.
    taken = await store.read_event(events[0].id)
    assert taken is not None
    reused = [NewEvent("E", {"n": 0, "pad": "x" * 200}, id=taken.id), NewEvent("E", {})]
    with pytest.raises(DuplicateEventError):
        await store.append("elsewhere-1", reused)
