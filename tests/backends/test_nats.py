"""The NATS JetStream event store: the shared contract on a 3-node cluster and on one
node, then what is particular to it (encoding, versions, faults)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from uuid import UUID

import nats
import pytest
import pytest_asyncio
from nats.js.api import StorageType, StreamConfig

from eventbook._backends.nats.subjects import Subjects, decode_token, encode_token
from eventbook._connect import connect
from eventbook._errors import NotSupported, StreamDeleted, UnavailableError
from eventbook._store.lifecycle import STREAM_DELETED
from eventbook._store.types import (
    NewEvent,
    Position,
)
from eventbook.testing import EventStoreConformance
from eventbook.testing.importing import copied
from tests.cli.test_lifecycle_commands import call, invoke, kept
from tests.servers.nats import NatsCluster


async def drop_streams(cluster: NatsCluster, stream: str) -> None:
    """Delete the store's streams so that the session's cluster stays light."""
    client = await nats.connect(servers=[cluster.node_url(i) for i in cluster.running()])
    try:
        js = client.jetstream(timeout=10)
        for name in (stream, f"{stream}_SNAPSHOTS"):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_stream(name)
    finally:
        await client.close()


def new_stream_name() -> str:
    return f"T{uuid.uuid4().hex[:12]}"


@pytest_asyncio.fixture
async def cluster_stream(nats_cluster: NatsCluster) -> AsyncIterator[str]:
    name = new_stream_name()
    yield name
    await drop_streams(nats_cluster, name)


@pytest_asyncio.fixture
async def node_stream(nats_node: NatsCluster) -> AsyncIterator[str]:
    name = new_stream_name()
    yield name
    await drop_streams(nats_node, name)


class TestNatsClusterStore(EventStoreConformance):
    @pytest.fixture
    def store_url(self, nats_cluster: NatsCluster, cluster_stream: str) -> str:
        return nats_cluster.url(stream=cluster_stream, replicas="3")


class TestNatsSingleNodeStore(EventStoreConformance):
    @pytest.fixture
    def store_url(self, nats_node: NatsCluster, node_stream: str) -> str:
        return nats_node.url(stream=node_stream, replicas="1")


# -- subjects ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["order-42", "order", "order-", "-x", "Straße-東京", "a.b-c*d>e", "x-y-z", "_odd-~", "a b"],
)
def test_stream_names_round_trip_through_subjects(name: str) -> None:
    subjects = Subjects("EVENTS")
    subject = subjects.events(name)
    tokens = subject.split(".")
    assert len(tokens) == 4
    assert all(t and not any(c in t for c in " *>\t") for t in tokens)
    assert subjects.stream_of(subject) == name


def test_distinct_names_get_distinct_subjects() -> None:
    subjects = Subjects("EVENTS")
    names = ["order", "order-", "order-_", "order--", "_b3JkZXI", "order-~"]
    assert len({subjects.events(n) for n in names}) == len(names)
    for token in ["", "_", "~", "a.b", "é"]:
        assert decode_token(encode_token(token)) == token


# -- appends under load ------------------------------------------------------------------------


@pytest.mark.slow
async def test_appends_expecting_the_version_just_written_never_conflict_falsely(
    nats_cluster: NatsCluster, cluster_stream: str
) -> None:
    # Server 2.15.1 let a replica answer a direct get from before the store's own last
    # append; with 100-event batches this refused such an append within a few hundred,
    # and reads right after an append missed it.
    url = nats_cluster.url(stream=cluster_stream, replicas="3")
    async with await connect(url) as store:
        for stream in range(40):
            for append in range(10):
                events = [NewEvent("Ticked", {"pad": "x" * 100}) for _ in range(100)]
                last = await store.append(f"clock-{stream}", events, expected=append * 100)
            assert await store.stream_version(f"clock-{stream}") == 1000
            assert await store.head() == last.position
            newest = [e async for e in store.read_stream(f"clock-{stream}", from_version=901)]
            assert newest[-1].position == last.position


# -- imports ---------------------------------------------------------------------------------


async def test_an_import_longer_than_one_atomic_batch_is_written_in_pieces(
    nats_node: NatsCluster, node_stream: str
) -> None:
    # max_batch_size=8 lets an append carry 4 events: 11 events of one stream take 3 batches.
    url = nats_node.url(stream=node_stream, replicas="1", max_batch_size="8")
    events = [copied("order-1", n + 1, n) for n in range(11)] + [copied("user-1", 1, 11)]
    async with await connect(url) as store:
        await store.import_events(events)
        stored = [e async for e in store.read_all()]
        assert await store.stream_version("order-1") == 11
    kept = [(e.id, e.stream, e.version, e.data, e.recorded_at) for e in stored]
    assert kept == [(e.id, e.stream, e.version, e.data, e.recorded_at) for e in events]


# -- the stream lifecycle: what is particular to JetStream --------------------------------------


async def subjects_of(cluster: NatsCluster, stream: str, matching: str) -> dict[str, int]:
    """Messages per subject of the JetStream stream `stream` matching `matching`."""
    client = await nats.connect(servers=[cluster.node_url(i) for i in cluster.running()])
    try:
        info = await client.jetstream(timeout=5).stream_info(stream, subjects_filter=matching)
        return dict(info.state.subjects or {})
    finally:
        await client.close()


async def test_removal_purges_events_and_id_markers_but_keeps_the_tombstone_fence(
    nats_cluster: NatsCluster, cluster_stream: str
) -> None:
    url = nats_cluster.url(stream=cluster_stream, replicas="3")
    subjects = Subjects(cluster_stream)
    async with await connect(url) as store:
        gone = await store.append("gone-1", [NewEvent("E", {"n": n}) for n in range(3)])
        await store.append("kept-1", [NewEvent("E", {})])
        await store.append("cut-1", [NewEvent("E", {"n": n}) for n in range(4)])
        await store.tombstone_stream("gone-1")
        await store.truncate_stream("cut-1", before=3)
        await store.append("back-1", [NewEvent("E", {}), NewEvent("E", {})])
        await store.purge_stream("back-1")
        held = await subjects_of(nats_cluster, cluster_stream, f"{cluster_stream}.>")
        after = await store.append("kept-1", [NewEvent("E", {})])
    assert held[subjects.events("gone-1")] == 1  # the fence: the name stays taken
    assert held[subjects.events("cut-1")] == 2  # versions 3 and 4
    assert subjects.events("back-1") not in held
    assert subjects.marks("back-1") not in held  # an archived stream leaves only $$ events
    ids = [k for k in held if k.startswith(f"{cluster_stream}.i.")]
    # kept-1, cut-1's 3 and 4, and the three system events: 6 of 13 event ids remain
    assert len(ids) == 6
    assert after.position.minor > gone.position.minor  # sequences go on, never reused


async def test_another_store_sees_deletions_and_reads_an_archived_stream_as_empty(
    nats_cluster: NatsCluster, cluster_stream: str
) -> None:
    url = nats_cluster.url(stream=cluster_stream, replicas="3", retry_for="3")
    async with await connect(url) as mine, await connect(url) as theirs:
        await theirs.append("shared-1", [NewEvent("E", {})])
        await theirs.append("shared-2", [NewEvent("E", {}), NewEvent("E", {})])
        await mine.delete_stream("shared-1")
        with pytest.raises(StreamDeleted):
            await theirs.append("shared-1", [NewEvent("E", {})], expected=1)
        restarted = await theirs.append("shared-1", [NewEvent("E", {})], restart=True)
        assert restarted.version == 2
        assert [e.version async for e in mine.read_stream("shared-1")] == [2]
        await mine.purge_stream("shared-2")
        # `theirs` wrote the purged messages; its reads must not wait for them to return.
        assert [e async for e in theirs.read_stream("shared-2")] == []
        assert await theirs.stream_version("shared-2") == 0
        assert (await theirs.append("shared-2", [NewEvent("E", {})], expected=0)).version == 1


async def test_a_stream_created_with_deny_purge_deletes_softly_and_refuses_removal(
    nats_node: NatsCluster, node_stream: str
) -> None:
    # How eventbook created its streams before the lifecycle: no stream update can lift
    # deny_purge, so what needs a purge is refused, and a tombstone only hides.
    subjects = Subjects(node_stream)
    client = await nats.connect(nats_node.node_url(0))
    try:
        await client.jetstream(timeout=5).add_stream(
            StreamConfig(
                name=node_stream,
                subjects=[subjects.events_all, subjects.ids_all],
                storage=StorageType.FILE,
                allow_direct=True,
                allow_atomic=True,
                deny_delete=True,
                deny_purge=True,
            )
        )
    finally:
        await client.close()
    async with await connect(nats_node.url(stream=node_stream, replicas="1")) as store:
        await store.append("old-1", [NewEvent("E", {}), NewEvent("E", {})])
        await store.delete_stream("old-1")
        assert (await store.append("old-1", [NewEvent("E", {})], restart=True)).version == 3
        for refused in (
            store.truncate_stream("old-1", before=3),
            store.purge_stream("old-1"),
        ):
            with pytest.raises(NotSupported, match="deny_purge"):
                await refused
        await store.tombstone_stream("old-1")
        assert [e async for e in store.read_stream("old-1")] == []
        with pytest.raises(StreamDeleted):
            await store.append("old-1", [NewEvent("E", {})], restart=True)
        hidden = [e for e in [e async for e in store.read_all()] if e.stream == "old-1"]
        assert [e.version for e in hidden] == [1, 2, 3]  # hidden from the stream, not removed
    held = await subjects_of(nats_node, node_stream, subjects.marks_all)
    assert list(held) == [subjects.marks("old-1")]  # the marks subject was added


def test_the_maintenance_commands_run_on_nats(
    nats_node: NatsCluster, node_stream: str, tmp_path: Path
) -> None:
    url = nats_node.url(stream=node_stream, replicas="1")
    for name in ("account-0", "account-1"):
        call(url, "append", name, [NewEvent("Deposited", {"n": n}) for n in range(3)])
    assert invoke("retention", "account-0", "--max-count", "1", "--store", url)[0] == 0
    code, out = invoke("maintain", "--store", url, "--json")
    assert code == 0, out
    assert [e.version for e in call(url, "read_stream", "account-0")] == [3]

    before = call(url, "read_stream", "account-1")
    file = tmp_path / "account-1.jsonl.gz"
    code, out = invoke("archive", str(file), "--stream", "account-1", "--store", url, "--json")
    assert code == 0, out
    assert call(url, "stream_version", "account-1") == 0
    code, out = invoke("import", str(file), "--restore", "--store", url, "--json")
    assert code == 0, out
    assert kept(call(url, "read_stream", "account-1")) == kept(before)
    # Choosing streams by position needs list_streams, which NATS does not offer.
    assert invoke("archive", str(file), "--before", "1000", "--store", url)[0] == 1


# -- faults: a cluster of the test's own, whose nodes it kills -------------------------------


@pytest.fixture
def private_cluster() -> Iterator[NatsCluster]:
    with NatsCluster(3) as cluster:
        yield cluster


async def stream_leader(cluster: NatsCluster, stream: str) -> int:
    """The index of the node leading `stream`'s Raft group."""
    client = await nats.connect(servers=[cluster.node_url(i) for i in cluster.running()])
    try:
        for _ in range(100):
            info = await client.jetstream(timeout=5).stream_info(stream)
            if info.cluster is not None and info.cluster.leader:
                return cluster.index_of(info.cluster.leader)
            await asyncio.sleep(0.1)
    finally:
        await client.close()
    raise AssertionError(f"stream {stream} has no leader")


async def read_everything_from(cluster: NatsCluster, index: int, stream: str) -> list[UUID]:
    """Every event id in global order, read through one node only."""
    url = f"{cluster.node_url(index)}?stream={stream}&replicas=3&retry_for=20"
    async with await connect(url) as store:
        return [e.id async for e in store.read_all()]


@pytest.mark.slow
async def test_a_leader_killed_during_appends_loses_and_doubles_nothing(
    private_cluster: NatsCluster,
) -> None:
    stream = "FAULTS"
    url = private_cluster.url(stream=stream, replicas="3", retry_for="20", request_timeout="1")
    writers, appends_each = 6, 25
    acknowledged: dict[UUID, Position] = {}
    seen: list[UUID] = []
    async with await connect(url) as store, await connect(url) as watcher:
        await store.append("warmup-1", [NewEvent("Warm", {})])
        leader = await stream_leader(private_cluster, stream)
        halfway = asyncio.Event()

        async def subscriber() -> None:
            async for e in watcher.subscribe():
                seen.append(e.id)

        async def writer(tag: int) -> None:
            for n in range(appends_each):
                new = NewEvent("Written", {"tag": tag, "n": n})
                result = await store.append(f"fault-{tag}", [new])
                acknowledged[new.id] = result.position
                if len(acknowledged) >= writers * appends_each // 3:
                    halfway.set()

        async def killer() -> None:
            await halfway.wait()
            private_cluster.kill(leader)

        started = time.monotonic()
        watching = asyncio.create_task(subscriber())
        await asyncio.gather(killer(), *(writer(t) for t in range(writers)))
        assert time.monotonic() - started < 40  # the election was ridden out in the bound

        # A client that lost a reply retries with the same ids: the batch lands once.
        batch = [NewEvent("Retried", {"n": 1}), NewEvent("Retried", {"n": 2})]
        first = await store.append("retry-1", batch)
        again = await store.append("retry-1", batch)
        assert (again.replayed, again.position) == (True, first.position)

        total = 1 + writers * appends_each + 2
        for _ in range(200):
            if len(seen) >= total:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # anything delivered twice would show up now
        watching.cancel()
        everything = [e async for e in store.read_all()]

    assert len(acknowledged) == writers * appends_each
    ids = [e.id for e in everything]
    assert len(ids) == len(set(ids)) == total
    for event in everything:
        if event.id in acknowledged:
            assert acknowledged[event.id] == event.position
    assert seen == ids  # the subscriber saw every event once, in the global order
    for survivor in private_cluster.running():
        assert await read_everything_from(private_cluster, survivor, stream) == ids


@pytest.mark.slow
async def test_deletions_during_a_leader_kill_each_land_once(
    private_cluster: NatsCluster,
) -> None:
    # Deletions ride out the election by retrying with the same system event id; one whose
    # batch landed but whose reply was lost must return the original result, not find
    # the stream deleted and raise StreamDeleted, and none may land twice.
    stream = "LIFEFAULTS"
    url = private_cluster.url(stream=stream, replicas="3", retry_for="20", request_timeout="1")
    names = [f"doomed-{n}" for n in range(60)]
    async with await connect(url) as store:
        for name in names:
            await store.append(name, [NewEvent("Born", {}), NewEvent("Lived", {})])
        leader = await stream_leader(private_cluster, stream)
        results: dict[str, Position] = {}

        async def deleter(part: list[str]) -> None:
            for name in part:
                hard = name.endswith(("0", "5"))
                deleting = store.tombstone_stream if hard else store.delete_stream
                results[name] = (await deleting(name, expected=2)).position
                if len(results) == len(names) // 3:
                    private_cluster.kill(leader)

        await asyncio.gather(*(deleter(names[i::4]) for i in range(4)))
        markers = [e async for e in store.read_all(types=[STREAM_DELETED])]
        states = [await store.stream_state(name) for name in names]
    assert sorted(m.data["stream"] for m in markers) == sorted(names)  # once each
    assert {m.data["stream"]: m.position for m in markers} == results
    assert all(s.deleted or s.tombstoned for s in states)


@pytest.mark.slow
async def test_without_a_quorum_appends_fail_with_unavailable(
    private_cluster: NatsCluster,
) -> None:
    url = private_cluster.url(stream="QUORUM", replicas="3", retry_for="3", request_timeout="1")
    async with await connect(url) as store:
        await store.append("q-1", [NewEvent("Before", {})])
        leader = await stream_leader(private_cluster, "QUORUM")
        follower = next(i for i in range(3) if i != leader)
        for index in (follower, leader):
            private_cluster.kill(index)
        started = time.monotonic()
        with pytest.raises(UnavailableError):
            await store.append("q-1", [NewEvent("After", {})])
        assert time.monotonic() - started < 10  # the retry bound, not a hang


# -- servers too old ---------------------------------------------------------------------------


async def test_a_server_older_than_2_12_is_refused_with_a_clear_error() -> None:
    # Only the version the server announces matters here: a listener that greets like a
    # 2.11 server and answers the client's PING is enough to reach the check.
    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b'INFO {"server_id":"OLD","version":"2.11.9","proto":1,"headers":true,'
            b'"max_payload":1048576}\r\n'
        )
        while line := await reader.readline():
            if line.startswith(b"PING"):
                writer.write(b"PONG\r\n")
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        with pytest.raises(UnavailableError, match=r"2\.11\.9 is too old.*2\.12 or newer"):
            await connect(f"nats://127.0.0.1:{port}?stream=OLD")
