"""NATS JetStream store throughput beside raw nats-py doing the same work, in the same run.

    python -m benchmarks.store --backend nats --runs 3 --json

Starts a throwaway 3-node cluster on loopback (tests/servers/nats.py) unless
`EVENTBOOK_BENCH_NATS_URL` names one (`nats://h1:4222,h2:4222,h3:4222`); each run uses
fresh streams, replicated three times.

- The raw baseline publishes the same JSON body with a JetStream ack to an R3 stream of
  its own: one at a time (`raw_publish_1task_s`), and pipelined, many acks in flight
  (`raw_publish_pipelined_s`), and from 8 tasks one at a time each (`raw_publish_8tasks_s`).
- eventbook's append is one atomic batch of two messages per event (an id marker and the
  event), after a read of the stream's last message unless the append expects a new
  stream (as these do: `expected=0`); a conflict costs a read and a second batch.
- `raw_batch_1task_s` / `raw_batch_8tasks_s` are raw nats-py sending what an append sends
  (a two-message atomic batch with both expectations), not judged: they split the gap to
  plain publish into JetStream's cost of the batch and eventbook's own.
- Reads compare against raw batched direct gets of the same messages, decoded as JSON.
- Projection catch-up: a `ProjectionRunner` writing one row per event into a SQLite read
  model (benchmarks/projections.py's projection), against the raw read of the same
  events, which writes nothing.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import nats
from nats.js.api import StorageType, StreamConfig

from benchmarks.common import Figures, Target, stopwatch
from benchmarks.projections import rows_projection
from eventbook._backends.nats import NatsEventStore
from eventbook._store.types import NewEvent
from eventbook.projections import (
    ProjectionRunner,
    RunnerSettings,
    SQLiteDatabase,
    reset_projection,
    setup_projection,
)

TARGETS = [
    Target("append 1 task vs raw publish", "eventbook_append_1task_s", "raw_publish_1task_s", 0.7),
    Target(
        "append 8 tasks vs raw 8 tasks", "eventbook_append_8tasks_s", "raw_publish_8tasks_s", 0.7
    ),
    Target(
        "append 100 events vs raw pipelined",
        "eventbook_append_100_events_s",
        "raw_publish_pipelined_s",
        0.7,
    ),
    Target("read_all vs raw direct get", "eventbook_read_all_events_s", "raw_read_all_msgs_s", 0.7),
    Target(
        "read_stream 1k time vs raw",
        "eventbook_read_stream_1k_seconds",
        "raw_read_stream_1k_seconds",
        at_most=1.5,
    ),
    Target(
        "projection catch-up vs raw read",
        "eventbook_catch_up_events_s",
        "raw_read_all_msgs_s",
        at_least=0.5,
    ),
]

ROUNDS = 3
SETTINGS = RunnerSettings(batch_size=1000)
DATA = {"customer": "Ada Lovelace", "total": 129.5, "lines": [{"sku": "B-17", "qty": 2}]}
METADATA = {"correlation": "c0ffee", "actor": "bench"}
BODY = msgspec.json.encode({"t": "OrderPlaced", "d": DATA, "m": METADATA})
_cluster: Any = None


def cluster_url() -> str:
    global _cluster
    given = os.environ.get("EVENTBOOK_BENCH_NATS_URL")
    if given:
        return given
    if _cluster is None:
        from tests.servers.nats import NatsCluster

        _cluster = NatsCluster(3)
        _cluster.start()
        atexit.register(_cluster.cleanup)
    url: str = _cluster.url()
    return url


async def rate(count: int, work: Callable[[], Awaitable[Any]]) -> float:
    with stopwatch() as elapsed:
        await work()
    return count / elapsed()


class Bench:
    def __init__(self, url: str, scale: float) -> None:
        self.url = url
        self.name = f"B{uuid.uuid4().hex[:10]}"
        self.one, self.eight = int(300 * scale), int(1600 * scale)
        self.batches, self.stream_size = max(1, int(10 * scale)), max(100, int(1000 * scale))
        self.best: Figures = {}

    def keep(self, name: str, value: float, *, lower: bool = False) -> None:
        old = self.best.get(name)
        if old is None or (value < old if lower else value > old):
            self.best[name] = value

    async def raw_round(self, js: Any, r: int) -> None:
        async def serial() -> None:
            for n in range(self.one):
                await js.publish(f"{self.name}raw.one{r}.{n}", BODY)

        async def pipelined() -> None:
            for start in range(0, self.eight, 256):
                count = min(256, self.eight - start)
                await asyncio.gather(
                    *(js.publish(f"{self.name}raw.p{r}.{n}", BODY) for n in range(count))
                )

        async def serial_in(task: int) -> None:
            for n in range(self.eight // 8):
                await js.publish(f"{self.name}raw.e{r}.{task}.{n}", BODY)

        self.keep("raw_publish_1task_s", await rate(self.one, serial))
        self.keep(
            "raw_publish_8tasks_s",
            await rate(self.eight, lambda: asyncio.gather(*(serial_in(t) for t in range(8)))),
        )
        self.keep("raw_publish_pipelined_s", await rate(self.eight, pipelined))

        async def batches_in(task: int, count: int) -> None:
            for n in range(count):
                subject = f"{self.name}raw.b{r}.{task}.{n}"
                marker = f"{self.name}raw.i{r}.{task}.{n}"
                await raw_batch(js._nc, [(marker, b'{"n":1}'), (subject, BODY)])

        self.keep("raw_batch_1task_s", await rate(self.one, lambda: batches_in(99, self.one)))
        self.keep(
            "raw_batch_8tasks_s",
            await rate(
                self.eight,
                lambda: asyncio.gather(*(batches_in(t, self.eight // 8) for t in range(8))),
            ),
        )

    async def eventbook_round(self, store: NatsEventStore, r: int) -> None:
        async def appends(prefix: str, count: int) -> None:
            for n in range(count):
                event = NewEvent("OrderPlaced", DATA, METADATA)
                await store.append(f"{prefix}-{n}", [event], expected=0)

        async def big() -> None:
            for b in range(self.batches):
                batch = [NewEvent("OrderPlaced", DATA, METADATA) for _ in range(100)]
                await store.append(f"big-{r}", batch, expected=b * 100)

        self.keep(
            "eventbook_append_1task_s", await rate(self.one, lambda: appends(f"o{r}", self.one))
        )
        self.keep(
            "eventbook_append_8tasks_s",
            await rate(
                self.eight,
                lambda: asyncio.gather(*(appends(f"e{r}.{t}", self.eight // 8) for t in range(8))),
            ),
        )
        self.keep("eventbook_append_100_events_s", await rate(self.batches * 100, big))

    async def read_rounds(self, client: Any, store: NatsEventStore) -> None:
        for b in range(self.stream_size // 100):
            batch = [NewEvent("OrderPlaced", DATA, METADATA) for _ in range(100)]
            await store.append("long-1", batch, expected=b * 100)
        head = await store.head()
        assert head is not None
        long_subject = store._subjects.events("long-1")  # the raw side reads the same messages

        async def raw_page(subject: str, start: int) -> list[Any]:
            # One inbox with a callback per page, as a careful nats-py user would write it.
            got: list[Any] = []
            ended = asyncio.Event()

            async def collect(message: Any) -> None:
                if (message.headers or {}).get("Status"):
                    ended.set()
                    return
                msgspec.json.decode(message.data)
                got.append(message)

            inbox = client.new_inbox()
            sub = await client.subscribe(inbox, cb=collect)
            request = {"seq": start, "next_by_subj": subject, "batch": 1000}
            await client.publish(
                f"$JS.API.DIRECT.GET.{self.name}", json.dumps(request).encode(), reply=inbox
            )
            await asyncio.wait_for(ended.wait(), 5)
            await sub.unsubscribe()
            return got

        async def raw_all(subject: str) -> int:
            fetched, start = 0, 1
            while True:
                page = await raw_page(subject, start)
                fetched += len(page)
                if len(page) < 1000:
                    return fetched
                start = int(page[-1].headers["Nats-Sequence"]) + 1

        async def read_all() -> int:
            return len([e async for e in store.read_all() if e.position <= head])

        async def read_stream() -> None:
            assert len([e async for e in store.read_stream("long-1")]) == self.stream_size

        total = await read_all()
        folder = tempfile.mkdtemp(prefix="eventbook-bench-nats-")
        try:
            database = SQLiteDatabase(f"{folder}/read.db")
            projection = rows_projection(database, "bench_catch_up", ("OrderPlaced",))
            await setup_projection(projection)
            for _ in range(ROUNDS):
                await reset_projection(projection)
                runner = ProjectionRunner(store, projection, settings=SETTINGS)
                with stopwatch() as elapsed:
                    await runner.run(until=head)
                done = (await database.fetch("SELECT count(*) FROM bench_catch_up"))[0][0]
                self.keep("eventbook_catch_up_events_s", done / elapsed())
            await database.close()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        for _ in range(ROUNDS):
            self.keep("raw_read_all_msgs_s", await rate(total, lambda: raw_all(f"{self.name}.e.>")))
            self.keep("eventbook_read_all_events_s", await rate(total, read_all))
            self.keep(
                "raw_read_stream_1k_seconds",
                1 / await rate(1, lambda: raw_all(long_subject)),
                lower=True,
            )
            self.keep(
                "eventbook_read_stream_1k_seconds", 1 / await rate(1, read_stream), lower=True
            )
        self.best["events_read"] = total

    async def run(self) -> Figures:
        servers = [f"nats://{h}" for h in self.url.split("://", 1)[1].split("?")[0].split(",")]
        client = await nats.connect(servers=servers)
        js = client.jetstream(timeout=10)
        raw = StreamConfig(
            name=f"{self.name}raw",
            subjects=[f"{self.name}raw.>"],
            storage=StorageType.FILE,
            num_replicas=3,
            allow_atomic=True,
        )
        await js.add_stream(raw)
        store_url = f"{self.url.split('?')[0]}?stream={self.name}&replicas=3"
        try:
            async with await NatsEventStore.open(store_url) as store:
                await js.publish(f"{self.name}raw.warm", BODY)
                await store.append("warm-1", [NewEvent("OrderPlaced", DATA, METADATA)])
                for r in range(ROUNDS):
                    await self.raw_round(js, r)
                    await self.eventbook_round(store, r)
                await self.read_rounds(client, store)
        finally:
            for name in (raw.name, self.name, f"{self.name}_SNAPSHOTS"):
                await js.delete_stream(str(name))
            await client.close()
        return self.best


async def raw_batch(client: Any, messages: list[tuple[str, bytes]]) -> None:
    """An atomic batch (ADR-50) by hand, each message expecting an empty subject."""
    batch_id = uuid.uuid4().hex
    for number, (subject, body) in enumerate(messages, start=1):
        headers = {
            "Nats-Batch-Id": batch_id,
            "Nats-Batch-Sequence": str(number),
            "Nats-Expected-Last-Subject-Sequence": "0",
        }
        if number < len(messages):
            await client.publish(subject, body, headers=headers)
            continue
        headers["Nats-Batch-Commit"] = "1"
        reply = await client.request(subject, body, timeout=10, headers=headers)
        if b'"error"' in reply.data:
            raise RuntimeError(reply.data.decode())


async def one_run(scale: float) -> Figures:
    return await Bench(cluster_url(), scale).run()
