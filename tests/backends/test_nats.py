"""The NATS JetStream event store: the shared contract on a 3-node cluster and on one
node, then what is particular to it (encoding, versions, faults)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import nats
import pytest
import pytest_asyncio

from eventbook._backends.nats.subjects import Subjects, decode_token, encode_token
from eventbook.testing import EventStoreConformance
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
