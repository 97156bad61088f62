"""The projection daemon, unchanged, on a NATS JetStream store (a 3-node cluster), with
its read model in SQLite."""

from __future__ import annotations

from pathlib import Path

from eventbook._connect import connect
from eventbook._store.types import NewEvent
from eventbook.projections import ProjectionDaemon, RunnerSettings, SQLiteDatabase, wait_for
from tests.backends.test_nats import drop_streams, new_stream_name
from tests.projections.conftest import place_orders
from tests.projections.models import model, orders_projection
from tests.servers.nats import NatsCluster


async def test_a_daemon_catches_up_a_sqlite_projection_from_nats(
    nats_cluster: NatsCluster, tmp_path: Path
) -> None:
    stream = new_stream_name()
    database = await SQLiteDatabase.open(tmp_path / "read.db")
    try:
        async with await connect(nats_cluster.url(stream=stream, replicas="3")) as store:
            await place_orders(store, 60, per_append=3)
            projection = orders_projection(database)
            settings = RunnerSettings(batch_size=64)
            async with ProjectionDaemon(store, [projection], settings=settings):
                head = await store.head()
                assert head is not None
                await wait_for(projection, head, 20)
                live = await store.append(
                    "order-live", [NewEvent("OrderPlaced", {"customer": "x", "total": 1})]
                )
                await wait_for(projection, live, 10)  # woken by the append signal
        built = await model(database)
        assert (built["applied"], built["duplicates"]) == (60 * 2 + 30 + 1, 0)
        assert len(built["orders"]) == 61
    finally:
        await database.close()
        await drop_streams(nats_cluster, stream)
