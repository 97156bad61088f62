"""Personal data: appending and loading events with two marked fields, against the same
events unmarked, in the same run.

    python -m benchmarks.personal_data --backend sqlite --runs 5 --json
    python -m benchmarks.personal_data --backend postgres --runs 5 --json
    python -m benchmarks.personal_data --backend sqlite --runs 5 --control

Two event classes with the same fields: in one, the customer's name and e-mail are marked
`PersonalData` and go through `PersonalDataStage` (AES-GCM, a data key per customer,
wrapped by a master key, in the store's key table); the other has no stage at all.

- Appending: `EventRegistry.serialise` then `EventStore.append`, one event per append, to
  streams of 200 customers, from one task (the stage's cost weighs most there).
- Loading: `Repository.load` of each customer's aggregate (20 events, no snapshots, no
  state cache), three ways: through the stage, which keeps the last 10,000 events it
  opened, so that loading an aggregate again skips AES-GCM (`marked_load_s`);
  through a stage that keeps none, so that every load decrypts every event, as a first
  read does (`marked_load_first_s`); and through a keyring that caches no key either, so
  that every load also fetches and unwraps its customer's key from the key table
  (`marked_load_cold_key_s`, without a target: a service pays it once per customer and
  key-cache time).

The customers' keys are made (and cached by the `Keyring`) before the measured rounds;
making a key costs one insert per new customer (`marked_first_append_s`, no target).

Each customer's marked and unmarked operations run back to back, in alternating order; a
round's figure is the median operation times the number of customers (a pause of the
shared machine in one operation does not weigh), a run's figure the median of its
rounds, and the report the median across runs. `--control` sends the "marked" side
through the unmarked registry too: its ratios show the pairing's own error. `--scale 0.1`
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
from eventbook.personal import (
    ENVELOPE,
    Keyring,
    MasterKey,
    PersonalData,
    PersonalDataStage,
    open_key_store,
)

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
    Target(
        "first load, every event decrypted (time)",
        "marked_load_first_s",
        "plain_load_s",
        at_most=1.3,
    ),
]
NAMES = {"first": "marked_load_first_s", "cold": "marked_load_cold_key_s"}
"""The figures of the loads beside the two paired ones."""

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


async def one_run(backend: str, scale: float, control: bool) -> Figures:
    customers = max(10, int(CUSTOMERS * scale))
    async with opened_store(backend) as (store, url):
        keys = await open_key_store(url)
        master = MasterKey(b"b" * 32)
        stage = PersonalDataStage(Keyring(keys, master), [Ordered])
        keeps_none = PersonalDataStage(stage.keyring, [Ordered], opened_values=0)
        # A key cache that forgets at once: every load fetches and unwraps its key.
        cold = PersonalDataStage(Keyring(keys, master, cache_seconds=1e-9), [Ordered])
        registries = {
            "marked": EventRegistry([Ordered], stages=[stage]),
            "plain": EventRegistry([PlainOrdered]),
            "first": EventRegistry([Ordered], stages=[keeps_none]),
            "cold": EventRegistry([Ordered], stages=[cold]),
        }
        if control:  # no side marked: the ratios show the pairing's own error
            for kind in ("marked", "first", "cold"):
                registries[kind] = registries["plain"]
        repositories = {kind: Repository(store, Buyer, r) for kind, r in registries.items()}
        classes: dict[str, type[Any]] = {
            "marked": PlainOrdered if control else Ordered,
            "plain": PlainOrdered,
        }
        streams = {"marked": "marked", "plain": "plain", "first": "marked", "cold": "marked"}
        written = {"marked": 0, "plain": 0}

        async def append(kind: str, customer: int) -> None:
            stream = f"{kind}-{customer}"
            new = event(classes[kind], customer, written[kind])
            written[kind] += 1
            await store.append(stream, await registries[kind].serialise(stream, [new]))

        async def load(kind: str, customer: int) -> None:
            await repositories[kind].load(f"{streams[kind]}-{customer}")

        with stopwatch() as making_keys:
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
            ("load", load, ("marked", "plain", "first", "cold")),
        ]
        for index in range(ROUNDS):
            for what, work, kinds in plan:
                times: dict[str, list[float]] = {kind: [] for kind in kinds}
                for customer in range(customers):
                    order = kinds if (customer + index) % 2 == 0 else kinds[::-1]
                    for kind in order:
                        with stopwatch() as elapsed:
                            await work(kind, customer)
                        times[kind].append(elapsed())
                for kind, taken in times.items():
                    name = NAMES.get(kind, f"{kind}_{what}_s")
                    rounds.setdefault(name, []).append(statistics.median(taken) * customers)
        loaded = await repositories["marked"].load("marked-0")
        assert loaded.name == "Customer Number 0", loaded.name
        stored = [e async for e in store.read_stream("marked-0", limit=1)]
        sealed = ENVELOPE in stored[0].data
        assert sealed != control, "the marked side must be sealed (and the control's not)"
        assert loaded.version == EVENTS_PER_CUSTOMER, loaded.version
        await keys.close()
    figures = {name: statistics.median(times) for name, times in rounds.items()}
    figures["marked_first_append_s"] = making_keys()
    return figures


def main() -> None:
    parser = arguments(__doc__, BACKENDS)
    parser.add_argument(
        "--control", action="store_true", help="no marked fields on either side (the noise)"
    )
    args = parser.parse_args()
    runs = asyncio.run(repeat(args.runs, lambda: one_run(args.backend, args.scale, args.control)))
    name = f"personal_data/{args.backend}{'/control' if args.control else ''}"
    report(summarise(name, runs, TARGETS), args.json)


if __name__ == "__main__":
    main()
