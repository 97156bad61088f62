"""Personal data: appending and loading events with two marked fields, against the same
events unmarked, in the same run.

    python -m benchmarks.personal_data --backend sqlite --runs 3 --json
    python -m benchmarks.personal_data --backend postgres --runs 3 --json

Two event classes with the same fields: in one, the customer's name and e-mail are marked
`PersonalData` and go through `PersonalDataStage` (AES-GCM, a data key per customer,
wrapped by a master key, in the store's key table); the other has no stage at all.

- Appending: `EventRegistry.serialise` then `EventStore.append`, one event per append, to
  streams of 200 customers, from one task (the stage's cost weighs most there).
- Loading: `Repository.load` of each customer's aggregate (20 events, no snapshots).

The customers' keys are made (and cached) before the measured rounds: the figures are
the steady state of a service whose customers write again; making a key is one insert
per new customer, reported apart as `marked_first_append_s`. A stage keeps the data it
opened for the last 10,000 events (while their keys are there), as a repository reads
the same events again and again; `marked_load_uncached_s` is the same load through a
stage that keeps none (every event decrypted on every load), reported without a target.
Each customer's marked and unmarked operations run back to back, in alternating order; a
figure is the median of its rounds, and the report the median across runs. `--scale 0.1`
makes a quick smoke run.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import msgspec

import eventbook
from benchmarks.common import Figures, Target, arguments, repeat, report, stopwatch, summarise
from eventbook import Aggregate, EventRegistry, EventStore, Repository
from eventbook.personal import Keyring, MasterKey, PersonalData, PersonalDataStage, open_key_store

BACKENDS = ("sqlite", "postgres")
CUSTOMERS = 200
EVENTS_PER_CUSTOMER = 20
ROUNDS = 5

TARGETS = [
    Target(
        "append, 2 marked fields vs unmarked (time)",
        "marked_append_s",
        "plain_append_s",
        at_most=1.3,
    ),
    Target(
        "load, 2 marked fields vs unmarked (time)", "marked_load_s", "plain_load_s", at_most=1.3
    ),
]

Customer = PersonalData(subject="customer_id")


class Ordered(msgspec.Struct, frozen=True):
    customer_id: str
    name: Annotated[str, Customer]
    email: Annotated[str, Customer]
    sku: str
    qty: int
    price: float


class PlainOrdered(msgspec.Struct, frozen=True):
    customer_id: str
    name: str
    email: str
    sku: str
    qty: int
    price: float


class Buyer(Aggregate[Any]):
    def __init__(self) -> None:
        super().__init__()
        self.name = ""
        self.spent = 0.0

    def apply(self, event: Any) -> None:
        self.name = event.name
        self.spent += event.qty * event.price


def event(cls: type[Any], customer: int, n: int) -> Any:
    return cls(
        f"c-{customer}",
        f"Customer Number {customer}",
        f"c{customer}@example.org",
        f"SKU-{n % 20}",
        1 + n % 3,
        9.99,
    )


@asynccontextmanager
async def opened_store(backend: str) -> AsyncIterator[tuple[EventStore, str]]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="eventbook-personal-bench-") as folder:
            url = f"sqlite:///{Path(folder) / 'events.db'}"
            store = await eventbook.connect(url)
            try:
                yield store, url
            finally:
                await store.close()
        return
    import asyncpg

    from benchmarks.store_postgres import server_url

    base = server_url()
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    url = f"{base}{'&' if '?' in base else '?'}schema={schema}"
    store = await eventbook.connect(url)
    try:
        yield store, url
    finally:
        await store.close()
        admin = await asyncpg.connect(base)
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


async def one_run(backend: str, scale: float) -> Figures:
    customers = max(10, int(CUSTOMERS * scale))
    async with opened_store(backend) as (store, url):
        keys = await open_key_store(url)
        stage = PersonalDataStage(Keyring(keys, MasterKey(b"b" * 32)), [Ordered])
        uncached = PersonalDataStage(stage.keyring, [Ordered], opened_values=0)
        registries = {
            "marked": EventRegistry([Ordered], stages=[stage]),
            "plain": EventRegistry([PlainOrdered]),
            "uncached": EventRegistry([Ordered], stages=[uncached]),
        }
        repositories = {kind: Repository(store, Buyer, r) for kind, r in registries.items()}
        classes: dict[str, type[Any]] = {"marked": Ordered, "plain": PlainOrdered}
        streams = {"marked": "marked", "plain": "plain", "uncached": "marked"}
        written = {"marked": 0, "plain": 0}

        async def append(kind: str, customer: int) -> None:
            stream = f"{kind}-{customer}"
            new = event(classes[kind], customer, written[kind])
            written[kind] += 1
            await store.append(stream, await registries[kind].serialise(stream, [new]))

        async def load(kind: str, customer: int) -> None:
            await repositories[kind].load(f"{streams[kind]}-{customer}")

        with stopwatch() as first:
            for customer in range(customers):
                await append("marked", customer)  # makes every customer's key
        for _ in range(EVENTS_PER_CUSTOMER - 1 - ROUNDS):
            for customer in range(customers):
                await append("marked", customer)
        for _ in range(EVENTS_PER_CUSTOMER - ROUNDS):
            for customer in range(customers):
                await append("plain", customer)

        # Paired: each customer's marked and unmarked operations run back to back, in
        # alternating order, so that the machine's busy moments weigh on both alike.
        rounds: dict[str, list[float]] = {}
        plan: list[tuple[str, Callable[[str, int], Any], tuple[str, ...]]] = [
            ("append", append, ("marked", "plain")),
            ("load", load, ("marked", "plain", "uncached")),
        ]
        for index in range(ROUNDS):
            for what, work, kinds in plan:
                spent = dict.fromkeys(kinds, 0.0)
                for customer in range(customers):
                    order = kinds if (customer + index) % 2 == 0 else kinds[::-1]
                    for kind in order:
                        with stopwatch() as elapsed:
                            await work(kind, customer)
                        spent[kind] += elapsed()
                for kind, seconds in spent.items():
                    name = "marked_load_uncached_s" if kind == "uncached" else f"{kind}_{what}_s"
                    rounds.setdefault(name, []).append(seconds)
        loaded = await repositories["marked"].load("marked-0")
        assert loaded.name == "Customer Number 0", loaded.name
        assert loaded.version == EVENTS_PER_CUSTOMER, loaded.version
        await keys.close()
    figures = {name: statistics.median(times) for name, times in rounds.items()}
    figures["marked_first_append_s"] = first()
    return figures


def main() -> None:
    parser = arguments(__doc__, BACKENDS)
    args = parser.parse_args()
    runs = asyncio.run(repeat(args.runs, lambda: one_run(args.backend, args.scale)))
    report(summarise(f"personal_data/{args.backend}", runs, TARGETS), args.json)


if __name__ == "__main__":
    main()
