"""`orders`: one row per order and its lines, for the list, the filters and the order page."""

from __future__ import annotations

import msgspec

from apps.orders.read_models.common import cents, order_id, order_stream
from eventbook import STREAM_DELETED, RecordedEvent, metadata_stream
from eventbook.projections import (
    BatchUpcaster,
    HandlerMap,
    HandlerRetry,
    Projection,
    ProjectionDatabase,
    SqlBatch,
    SqlSink,
)

SCHEMA = [
    "CREATE TABLE {orders} (order_id TEXT PRIMARY KEY, customer TEXT NOT NULL,"
    " status TEXT NOT NULL, currency TEXT NOT NULL, total_cents BIGINT NOT NULL,"
    " paid_cents BIGINT NOT NULL, item_count INTEGER NOT NULL, address TEXT NOT NULL,"
    " city TEXT NOT NULL, country TEXT NOT NULL, carrier TEXT, placed_at TEXT NOT NULL,"
    " updated_at TEXT NOT NULL, version INTEGER NOT NULL, position TEXT NOT NULL)",
    # One index per sort of the list, alone and after a status filter (see queries.SORTS).
    "CREATE INDEX {orders}_placed ON {orders} (placed_at, order_id)",
    "CREATE INDEX {orders}_updated ON {orders} (updated_at, order_id)",
    "CREATE INDEX {orders}_total ON {orders} (total_cents, order_id)",
    "CREATE INDEX {orders}_status ON {orders} (status, placed_at, order_id)",
    "CREATE INDEX {orders}_status_updated ON {orders} (status, updated_at, order_id)",
    "CREATE INDEX {orders}_status_total ON {orders} (status, total_cents, order_id)",
    "CREATE INDEX {orders}_customer ON {orders} (customer, placed_at, order_id)",
    "CREATE TABLE {order_lines} (order_id TEXT NOT NULL, product TEXT NOT NULL,"
    " quantity INTEGER NOT NULL, unit_price_cents BIGINT NOT NULL,"
    " PRIMARY KEY (order_id, product))",
]

_TOUCH = "updated_at = ?, version = ?, position = ?"
_RETOTAL = (
    "UPDATE {orders} SET total_cents = (SELECT COALESCE(SUM(quantity * unit_price_cents), 0)"
    " FROM {order_lines} WHERE order_id = ?), item_count = (SELECT COUNT(*) FROM {order_lines}"
    f" WHERE order_id = ?), {_TOUCH} WHERE order_id = ?"
)


def _touch(event: RecordedEvent) -> tuple[str, int, str]:
    return (event.data["at"], event.version, str(event.position))


def order_list(
    database: ProjectionDatabase, upcast: BatchUpcaster, *, version: int = 1, partitions: int = 1
) -> Projection[SqlBatch]:
    """Every row is one order's: no row is shared between streams, so the build can be
    split into `partitions` by order (docs/projections.md, "Partitioned projections")."""
    handlers: HandlerMap[SqlBatch] = HandlerMap()

    @handlers.on("OrderPlaced")
    def placed(event: RecordedEvent, batch: SqlBatch) -> None:
        data = event.data
        address = data["shipping_address"]
        lines = [
            (data["order_id"], i["product"], i["quantity"], cents(i["unit_price"]))
            for i in data["items"]
        ]
        total = sum(q * p for _, _, q, p in lines)
        batch.execute(
            "INSERT INTO {orders} VALUES (?, ?, 'placed', ?, ?, 0, ?, ?, ?, ?, NULL, ?, ?, ?, ?)",
            (
                data["order_id"],
                data["customer"],
                data["currency"],
                total,
                len(lines),
                msgspec.json.encode(address).decode(),
                address["city"],
                address["country"],
                data["at"],
                *_touch(event),
            ),
        )
        for line in lines:
            batch.execute("INSERT INTO {order_lines} VALUES (?, ?, ?, ?)", line)

    @handlers.on("ItemAdded")
    def added(event: RecordedEvent, batch: SqlBatch) -> None:
        item, oid = event.data["item"], order_id(event)
        batch.execute(
            "INSERT INTO {order_lines} VALUES (?, ?, ?, ?) ON CONFLICT (order_id, product)"
            " DO UPDATE SET quantity = {order_lines}.quantity + excluded.quantity",
            (oid, item["product"], item["quantity"], cents(item["unit_price"])),
        )
        batch.execute(_RETOTAL, (oid, oid, *_touch(event), oid))

    @handlers.on("ItemRemoved")
    def removed(event: RecordedEvent, batch: SqlBatch) -> None:
        oid = order_id(event)
        batch.execute(
            "DELETE FROM {order_lines} WHERE order_id = ? AND product = ?",
            (oid, event.data["product"]),
        )
        batch.execute(_RETOTAL, (oid, oid, *_touch(event), oid))

    @handlers.on("ShippingAddressUpdated")
    def moved(event: RecordedEvent, batch: SqlBatch) -> None:
        address = event.data["address"]
        batch.execute(
            "UPDATE {orders} SET address = ?, city = ?, country = ?,"
            f" {_TOUCH} WHERE order_id = ?",
            (
                msgspec.json.encode(address).decode(),
                address["city"],
                address["country"],
                *_touch(event),
                order_id(event),
            ),
        )

    @handlers.on("PaymentProcessed")
    def paid(event: RecordedEvent, batch: SqlBatch) -> None:
        batch.execute(
            "UPDATE {orders} SET status = 'paid', paid_cents = paid_cents + ?,"
            f" {_TOUCH} WHERE order_id = ?",
            (cents(event.data["amount"]), *_touch(event), order_id(event)),
        )

    @handlers.on("OrderShipped")
    def shipped(event: RecordedEvent, batch: SqlBatch) -> None:
        batch.execute(
            f"UPDATE {{orders}} SET status = 'shipped', carrier = ?, {_TOUCH} WHERE order_id = ?",
            (event.data["carrier"], *_touch(event), order_id(event)),
        )

    @handlers.on("OrderCancelled")
    def cancelled(event: RecordedEvent, batch: SqlBatch) -> None:
        batch.execute(
            f"UPDATE {{orders}} SET status = 'cancelled', {_TOUCH} WHERE order_id = ?",
            (*_touch(event), order_id(event)),
        )

    @handlers.on("RefundIssued")
    def refunded(event: RecordedEvent, batch: SqlBatch) -> None:
        batch.execute(
            f"UPDATE {{orders}} SET paid_cents = paid_cents - ?, {_TOUCH} WHERE order_id = ?",
            (cents(event.data["amount"]), *_touch(event), order_id(event)),
        )

    @handlers.on(STREAM_DELETED)
    def deleted(event: RecordedEvent, batch: SqlBatch) -> None:
        # An operator deleted (or tombstoned) the order's stream: it leaves the list. The
        # system event comes in `$$order-<id>`, naming the order's stream in its data.
        order = event.data["stream"].removeprefix("order-")
        batch.execute("DELETE FROM {order_lines} WHERE order_id = ?", (order,))
        batch.execute("DELETE FROM {orders} WHERE order_id = ?", (order,))

    return Projection(
        "orders",
        SqlSink(database, tables=["orders", "order_lines"], schema=SCHEMA),
        handlers,
        version=version,
        categories=frozenset({"order", metadata_stream("order")}),
        upcast_batch=upcast,
        retry=HandlerRetry(max_attempts=3, backoff=0.05),
        partitions=partitions,
        partition_key=order_stream,
    )
