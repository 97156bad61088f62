"""`order_detail`: one order's page (GET /api/orders/{id}), in SQL or in Redis.

The same read model in two stores, to move it from one to the other blue/green:

- version 1 (`SQL_BUILD`): rows `(order_id, field, value)` in the read-model database;
- version 2 (`REDIS_BUILD`): a Redis hash per order, `order_detail:v2:<order_id>`.

An order is a set of fields: `customer`, `status`, `currency`, `address` (JSON),
`carrier`, `placed_at`, `updated_at`, `version`, `position`, `paid_cents`, and per
product `line:<product>` (quantity) and `price:<product>` (unit price in cents). Both
builds run the same handlers, written against `FieldWriter`; only the writer differs.
No handler reads the model: a Redis build is exactly-once under replay through the
sink's markers, not through read-modify-write (see eventbook's `redis_values`).

Readers go through `order_detail_view`, an `ActiveView` over both builds, so the API
follows `eventbook projections switch order_detail` without a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import msgspec

from apps.orders.read_models.common import cents, order_id
from eventbook import STREAM_DELETED, RecordedEvent, metadata_stream
from eventbook.projections import (
    ActiveView,
    BatchUpcaster,
    HandlerMap,
    HandlerRetry,
    Projection,
    ProjectionDatabase,
    SqlBatch,
    SqlSink,
)

if TYPE_CHECKING:
    from eventbook.projections import RedisValueSink, ValueBatch

NAME = "order_detail"
SQL_BUILD = 1
REDIS_BUILD = 2
STORES = {"sql": SQL_BUILD, "redis": REDIS_BUILD}
"""The builds the app can define, by the store they live in."""

SCHEMA = [
    "CREATE TABLE {order_detail} (order_id TEXT NOT NULL, field TEXT NOT NULL,"
    " value TEXT NOT NULL, PRIMARY KEY (order_id, field))",
]
_SET = (
    "INSERT INTO {order_detail} VALUES (?, ?, ?)"
    " ON CONFLICT (order_id, field) DO UPDATE SET value = excluded.value"
)
_SET_IF_ABSENT = "INSERT INTO {order_detail} VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
_ADD = (
    "INSERT INTO {order_detail} VALUES (?, ?, ?) ON CONFLICT (order_id, field) DO UPDATE"
    " SET value = CAST(CAST({order_detail}.value AS BIGINT) + CAST(excluded.value AS BIGINT)"
    " AS TEXT)"
)
_REMOVE = "DELETE FROM {order_detail} WHERE order_id = ? AND field = ?"
_FORGET = "DELETE FROM {order_detail} WHERE order_id = ?"

Field = str | int
C = TypeVar("C")


class FieldWriter(Protocol):
    """What the handlers write through: fields of one order, in either store."""

    def set(self, order: str, fields: dict[str, Field]) -> None: ...

    def set_if_absent(self, order: str, field: str, value: Field) -> None: ...

    def add(self, order: str, field: str, amount: int) -> None: ...

    def remove(self, order: str, *fields: str) -> None: ...

    def remove_order(self, order: str) -> None: ...


class SqlFields:
    """Fields as rows of the build's table, written with the checkpoint's transaction."""

    def __init__(self, batch: SqlBatch) -> None:
        self.batch = batch

    def set(self, order: str, fields: dict[str, Field]) -> None:
        for field, value in fields.items():
            self.batch.execute(_SET, (order, field, str(value)))

    def set_if_absent(self, order: str, field: str, value: Field) -> None:
        self.batch.execute(_SET_IF_ABSENT, (order, field, str(value)))

    def add(self, order: str, field: str, amount: int) -> None:
        self.batch.execute(_ADD, (order, field, str(amount)))

    def remove(self, order: str, *fields: str) -> None:
        for field in fields:
            self.batch.execute(_REMOVE, (order, field))

    def remove_order(self, order: str) -> None:
        self.batch.execute(_FORGET, (order,))


class RedisFields:
    """Fields of a Redis hash per order, each write marked with its event."""

    def __init__(self, batch: ValueBatch, event: RecordedEvent) -> None:
        self.batch = batch
        self.event = event

    def set(self, order: str, fields: dict[str, Field]) -> None:
        self.batch.hset(self.event, order, fields)

    def set_if_absent(self, order: str, field: str, value: Field) -> None:
        self.batch.hsetnx(self.event, order, field, value)

    def add(self, order: str, field: str, amount: int) -> None:
        self.batch.hincrby(self.event, order, field, amount)

    def remove(self, order: str, *fields: str) -> None:
        self.batch.hdel(self.event, order, *fields)

    def remove_order(self, order: str) -> None:
        self.batch.delete(self.event, order)


def _touch(event: RecordedEvent) -> dict[str, Field]:
    return {
        "updated_at": event.data["at"],
        "version": event.version,
        "position": str(event.position),
    }


def _address(address: dict[str, Any]) -> str:
    return msgspec.json.encode(address).decode()


def _handlers(writer: Callable[[RecordedEvent, C], FieldWriter]) -> HandlerMap[C]:
    handlers: HandlerMap[C] = HandlerMap()

    @handlers.on("OrderPlaced")
    def placed(event: RecordedEvent, batch: C) -> None:
        data = event.data
        fields: dict[str, Field] = {
            "customer": data["customer"],
            "status": "placed",
            "currency": data["currency"],
            "address": _address(data["shipping_address"]),
            "placed_at": data["at"],
            "paid_cents": 0,
            **_touch(event),
        }
        for item in data["items"]:
            fields[f"line:{item['product']}"] = item["quantity"]
            fields[f"price:{item['product']}"] = cents(item["unit_price"])
        writer(event, batch).set(data["order_id"], fields)

    @handlers.on("ItemAdded")
    def added(event: RecordedEvent, batch: C) -> None:
        item, oid, fields = event.data["item"], order_id(event), writer(event, batch)
        # A product already in the order keeps its price and gains the quantity.
        fields.set_if_absent(oid, f"price:{item['product']}", cents(item["unit_price"]))
        fields.add(oid, f"line:{item['product']}", item["quantity"])
        fields.set(oid, _touch(event))

    @handlers.on("ItemRemoved")
    def removed(event: RecordedEvent, batch: C) -> None:
        oid, product, fields = order_id(event), event.data["product"], writer(event, batch)
        fields.remove(oid, f"line:{product}", f"price:{product}")
        fields.set(oid, _touch(event))

    @handlers.on("ShippingAddressUpdated")
    def moved(event: RecordedEvent, batch: C) -> None:
        address = _address(event.data["address"])
        writer(event, batch).set(order_id(event), {"address": address, **_touch(event)})

    @handlers.on("PaymentProcessed")
    def paid(event: RecordedEvent, batch: C) -> None:
        oid, fields = order_id(event), writer(event, batch)
        fields.add(oid, "paid_cents", cents(event.data["amount"]))
        fields.set(oid, {"status": "paid", **_touch(event)})

    @handlers.on("OrderShipped")
    def shipped(event: RecordedEvent, batch: C) -> None:
        fields = {"status": "shipped", "carrier": event.data["carrier"], **_touch(event)}
        writer(event, batch).set(order_id(event), fields)

    @handlers.on("OrderCancelled")
    def cancelled(event: RecordedEvent, batch: C) -> None:
        writer(event, batch).set(order_id(event), {"status": "cancelled", **_touch(event)})

    @handlers.on("RefundIssued")
    def refunded(event: RecordedEvent, batch: C) -> None:
        oid, fields = order_id(event), writer(event, batch)
        fields.add(oid, "paid_cents", -cents(event.data["amount"]))
        fields.set(oid, _touch(event))

    @handlers.on(STREAM_DELETED)
    def deleted(event: RecordedEvent, batch: C) -> None:
        # An operator deleted (or tombstoned) the order's stream: its page goes. The
        # system event comes in `$$order-<id>`, naming the order's stream in its data.
        writer(event, batch).remove_order(event.data["stream"].removeprefix("order-"))

    return handlers


_RETRY = HandlerRetry(max_attempts=3, backoff=0.05)
_ORDERS = frozenset({"order", metadata_stream("order")})


def order_detail_sql(database: ProjectionDatabase, upcast: BatchUpcaster) -> Projection[SqlBatch]:
    """Version 1: the order pages as rows of the read-model database."""
    handlers: HandlerMap[SqlBatch] = _handlers(lambda event, batch: SqlFields(batch))
    sink = SqlSink(database, tables=[NAME], schema=SCHEMA)
    return Projection(
        NAME,
        sink,
        handlers,
        version=SQL_BUILD,
        categories=_ORDERS,
        upcast_batch=upcast,
        retry=_RETRY,
    )


def order_detail_redis(
    redis: Any, database: ProjectionDatabase, upcast: BatchUpcaster
) -> Projection[ValueBatch]:
    """Version 2: the order pages as Redis hashes; the checkpoint stays in `database`."""
    from eventbook.projections import RedisValueSink  # only a Redis deployment needs it

    handlers: HandlerMap[ValueBatch] = _handlers(lambda event, batch: RedisFields(batch, event))
    sink = RedisValueSink(redis, checkpoints=database, namespace=NAME)
    return Projection(
        NAME,
        sink,
        handlers,
        version=REDIS_BUILD,
        categories=_ORDERS,
        upcast_batch=upcast,
        retry=_RETRY,
    )


class OrderFields(Protocol):
    """One build's reader: an order's fields, {} when there is no such order."""

    projection: Projection[Any]

    async def fields(self, order: str) -> dict[str, str]: ...


class SqlOrderFields:
    def __init__(self, projection: Projection[SqlBatch]) -> None:
        self.projection = projection
        self._sql = (
            # The build's own table, `<table>_v<version>`: not the readers' SQL view, which
            # stays on the last SQL build when a Redis build is active.
            f"SELECT field, value FROM {NAME}_v{projection.version} WHERE order_id = ?"
        )

    async def fields(self, order: str) -> dict[str, str]:
        rows = await self.projection.sink.database.fetch(self._sql, (order,))
        return {row[0]: row[1] for row in rows}


class RedisOrderFields:
    def __init__(self, projection: Projection[ValueBatch]) -> None:
        self.projection = projection
        self._sink = cast("RedisValueSink", projection.sink)

    async def fields(self, order: str) -> dict[str, str]:
        return await self._sink.hgetall(self.projection.version, order)


def order_detail_builds(
    database: ProjectionDatabase, upcast: BatchUpcaster, *, redis: Any = None
) -> dict[str, Projection[Any]]:
    """Every build of the order page this deployment can read: SQL always, Redis with a
    client. Which of them the daemons run is the app's choice (`ORDERS_ORDER_DETAIL_BUILDS`)."""
    builds: dict[str, Projection[Any]] = {"sql": order_detail_sql(database, upcast)}
    if redis is not None:
        builds["redis"] = order_detail_redis(redis, database, upcast)
    return builds


def order_detail_view(builds: dict[str, Projection[Any]]) -> ActiveView[OrderFields]:
    """The order page as readers see it: served by whichever build is active."""
    readers: dict[int, OrderFields] = {}
    for store, projection in builds.items():
        readers[projection.version] = (
            SqlOrderFields(projection) if store == "sql" else RedisOrderFields(projection)
        )
    return ActiveView(builds["sql"].sink.database, NAME, readers)
