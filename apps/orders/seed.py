"""A realistic history for an empty store, made through the real command path.

Orders are placed over several simulated weeks; most are paid, most paid ones ship, some
are changed, some cancelled (paid ones are refunded). Commands go through the command bus
like any client's, on a bus of the seeder's own whose handlers read a simulated clock
(the service's bus keeps the real one). The oldest few percent are imported as
version 1 `OrderPlaced` events, from before orders had a currency, so the store holds
both schema versions and every reader relies on the upcaster.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import msgspec

from apps.orders.domain import commands as c
from apps.orders.domain.order import Order
from apps.orders.handlers import register_handlers, stream_of
from eventbook import (
    NO_STREAM,
    CommandBus,
    CommandMetadata,
    DomainError,
    EventStore,
    NewEvent,
    Repository,
)

# The time of the command being played; one per worker task, which each copy the context.
_simulated_now: ContextVar[datetime | None] = ContextVar("simulated_now", default=None)


def simulated_clock() -> datetime:
    """The seeding handlers' clock: the simulated time of the command being played."""
    now = _simulated_now.get()
    if now is None:
        raise RuntimeError("the simulated clock is read outside a seeded command")
    return now


FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Margaret",
    "Niklaus",
    "Radia",
    "Tim",
    "Katherine",
    "Linus",
    "Guido",
    "Hedy",
    "John",
    "Sophie",
    "Yukihiro",
    "Anita",
    "Dennis",
    "Shafi",
    "Leslie",
    "Lynn",
    "Joan",
    "Bjarne",
]
LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Hamilton",
    "Wirth",
    "Perlman",
    "Berners-Lee",
    "Johnson",
    "Torvalds",
    "van Rossum",
    "Lamarr",
    "McCarthy",
    "Wilson",
    "Matsumoto",
    "Borg",
    "Ritchie",
    "Goldwasser",
    "Lamport",
    "Conway",
    "Clarke",
    "Stroustrup",
]
CITIES = [
    ("London", "GB", "EC1A 1BB"),
    ("Berlin", "DE", "10115"),
    ("Paris", "FR", "75001"),
    ("Madrid", "ES", "28001"),
    ("Amsterdam", "NL", "1011 AB"),
    ("Vienna", "AT", "1010"),
    ("Dublin", "IE", "D02 X285"),
    ("Lisbon", "PT", "1100-148"),
    ("Milan", "IT", "20121"),
    ("Copenhagen", "DK", "1050"),
    ("Prague", "CZ", "110 00"),
    ("Zurich", "CH", "8001"),
]
STREETS = [
    "High Street",
    "Station Road",
    "Market Square",
    "Church Lane",
    "Mill Road",
    "Harbour Way",
    "Linden Allee",
    "Rue de la Paix",
    "Calle Mayor",
    "Canal Side",
]
PRODUCTS = {
    "Espresso machine": "249.00",
    "Burr grinder": "129.50",
    "Pour-over kettle": "54.90",
    "Ceramic dripper": "24.00",
    "Paper filters (100)": "6.50",
    "Single-origin beans 1kg": "32.00",
    "House blend 500g": "14.90",
    "Milk jug": "18.00",
    "Tamper": "29.90",
    "Scale": "45.00",
    "Travel mug": "22.50",
    "Cast-iron pan": "64.00",
    "Chef's knife": "89.00",
    "Cutting board": "35.00",
    "Linen apron": "27.00",
    "Stand mixer": "399.00",
    "Mixing bowls": "39.90",
    "Sourdough starter kit": "19.90",
    "Bread tin": "16.00",
    "Olive oil 1l": "21.00",
    "Sea salt flakes": "7.50",
    "Spice rack": "49.00",
    "Tea sampler": "28.00",
    "Matcha whisk": "15.00",
    "Glass teapot": "33.00",
}
CARRIERS = ["DHL", "UPS", "DPD", "GLS", "PostNL", "Royal Mail"]
CURRENCY_MIX: list[c.Currency] = [
    "EUR",
    "EUR",
    "EUR",
    "EUR",
    "EUR",
    "EUR",
    "EUR",
    "GBP",
    "GBP",
    "CHF",
]
LEGACY_SHARE = 0.04


async def seed(
    store: EventStore,
    repository: Repository[Order],
    orders: int,
    *,
    weeks: int = 6,
    tasks: int = 8,
    seed_value: int = 2026,
) -> int:
    """Create `orders` orders spread over the last `weeks` weeks; returns the count made."""
    bus = CommandBus(store)
    register_handlers(bus, repository, clock=simulated_clock)
    rng = random.Random(seed_value)
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(weeks=weeks)
    span = (end - start).total_seconds()
    # Older orders first, with more orders on later days (a growing shop).
    times = sorted(start + timedelta(seconds=span * rng.random() ** 0.7) for _ in range(orders))
    legacy = int(orders * LEGACY_SHARE)
    queue: asyncio.Queue[tuple[int, datetime, random.Random]] = asyncio.Queue()
    for number, at in enumerate(times):
        queue.put_nowait((number, at, random.Random(rng.random())))

    async def worker() -> None:
        while not queue.empty():
            number, at, order_rng = queue.get_nowait()
            order_id = c.new_order_id(f"seed-{seed_value}-{number}")
            life = _Life(store, bus, order_id, end, order_rng)
            await life.run(at, legacy=number < legacy)

    await asyncio.gather(*(worker() for _ in range(tasks)))
    return orders


def _customer(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _address(name: str, rng: random.Random) -> c.NewAddress:
    city, country, postcode = rng.choice(CITIES)
    street = f"{rng.randint(1, 180)} {rng.choice(STREETS)}"
    return c.NewAddress(name, street, city, postcode, country)


def _items(rng: random.Random) -> list[c.NewLineItem]:
    chosen = rng.sample(sorted(PRODUCTS), k=rng.choice([1, 1, 2, 2, 3, 4]))
    return [c.NewLineItem(p, rng.choice([1, 1, 1, 2, 3]), Decimal(PRODUCTS[p])) for p in chosen]


def _later(at: datetime, rng: random.Random, low_hours: float, high_hours: float) -> datetime:
    return at + timedelta(hours=rng.uniform(low_hours, high_hours))


def _steps(
    order_id: str, at: datetime, rng: random.Random, currency: c.Currency
) -> Iterator[tuple[datetime, object]]:
    """The commands of one order's life, in time order (some may be refused: that is life)."""
    customer = _customer(rng)
    items = _items(rng)
    yield at, c.PlaceOrder(order_id, customer, items, _address(customer, rng), currency)
    total = sum((i.unit_price * i.quantity for i in items), Decimal(0))
    if rng.random() < 0.12:
        product = rng.choice(sorted(set(PRODUCTS) - {i.product for i in items}))
        at = _later(at, rng, 0.1, 2)
        yield at, c.AddItem(order_id, product, 1, Decimal(PRODUCTS[product]))
        total += Decimal(PRODUCTS[product])
    if len(items) > 1 and rng.random() < 0.08:
        at = _later(at, rng, 0.1, 2)
        yield at, c.RemoveItem(order_id, items[-1].product)
        total -= items[-1].unit_price * items[-1].quantity
    if rng.random() < 0.06:
        at = _later(at, rng, 0.5, 6)
        yield at, c.UpdateShippingAddress(order_id, _address(customer, rng))
    if rng.random() < 0.07:
        yield _later(at, rng, 1, 30), c.CancelOrder(order_id, "customer changed their mind")
        return
    if rng.random() < 0.9:
        at = _later(at, rng, 0.05, 20)
        yield (
            at,
            c.ProcessPayment(order_id, total, rng.choice(["card", "card", "paypal", "invoice"])),
        )
        if rng.random() < 0.04:
            yield _later(at, rng, 1, 24), c.CancelOrder(order_id, "out of stock")
        elif rng.random() < 0.92:
            yield _later(at, rng, 6, 72), c.ShipOrder(order_id, rng.choice(CARRIERS))


class _Life:
    """Plays one order's commands at their simulated times."""

    def __init__(
        self, store: EventStore, bus: CommandBus, order_id: str, end: datetime, rng: random.Random
    ) -> None:
        self.store, self.bus, self.order_id, self.end, self.rng = store, bus, order_id, end, rng
        self.actor = rng.choice(["web", "web", "web", "mobile", "support"])

    async def run(self, at: datetime, *, legacy: bool) -> None:
        currency: c.Currency = "EUR" if legacy else self.rng.choice(CURRENCY_MIX)
        for when, command in _steps(self.order_id, at, self.rng, currency):
            if when > self.end:
                break  # the future has not happened yet
            _simulated_now.set(when)
            if legacy and isinstance(command, c.PlaceOrder):
                await self._import_v1(command, when)
                continue
            with contextlib.suppress(DomainError):
                await self.bus.dispatch(command, CommandMetadata(actor=self.actor))
        _simulated_now.set(None)

    async def _import_v1(self, command: c.PlaceOrder, at: datetime) -> None:
        """An order from before currencies, stored as the old code wrote it: version 1."""
        data = msgspec.to_builtins(command)
        for newer in ("currency", "customer_id", "email"):  # fields version 1 did not have
            del data[newer]
        # The same ISO 8601 form msgspec writes for the current events ("…Z").
        data["at"] = msgspec.to_builtins(at)
        metadata = {"schema_version": 1, "actor": "import", "occurred_at": data["at"]}
        event = NewEvent("OrderPlaced", data, metadata)
        await self.store.append(stream_of(command.order_id), [event], expected=NO_STREAM)
