"""`analytics`: orders and revenue per day and per product, in euros at reference rates.

Revenue counts when an order is paid (on the day of payment) and is taken back when it
is refunded. Every write is an SQL increment, so no handler reads before it writes.
"""

from __future__ import annotations

from apps.orders.read_models.common import EUR_PER_UNIT, cents, order_id
from eventbook import RecordedEvent
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
    "CREATE TABLE {daily} (day TEXT PRIMARY KEY, orders BIGINT NOT NULL DEFAULT 0,"
    " paid BIGINT NOT NULL DEFAULT 0, revenue_cents BIGINT NOT NULL DEFAULT 0,"
    " shipped BIGINT NOT NULL DEFAULT 0, cancelled BIGINT NOT NULL DEFAULT 0,"
    " refunds_cents BIGINT NOT NULL DEFAULT 0)",
    "CREATE TABLE {product_sales} (product TEXT PRIMARY KEY, quantity BIGINT NOT NULL,"
    " revenue_cents BIGINT NOT NULL, orders BIGINT NOT NULL)",
    # What analytics must remember of an order to value it when it is paid or refunded.
    "CREATE TABLE {sales_orders} (order_id TEXT PRIMARY KEY, rate_permille BIGINT NOT NULL)",
    "CREATE TABLE {sales_lines} (order_id TEXT NOT NULL, product TEXT NOT NULL,"
    " quantity BIGINT NOT NULL, eur_cents BIGINT NOT NULL, PRIMARY KEY (order_id, product))",
]

_RATE = "(SELECT rate_permille FROM {sales_orders} WHERE order_id = ?)"


def _day(event: RecordedEvent) -> str:
    day: str = event.data["at"][:10]
    return day


def analytics(
    database: ProjectionDatabase, upcast: BatchUpcaster, *, version: int = 1
) -> Projection[SqlBatch]:
    handlers: HandlerMap[SqlBatch] = HandlerMap()

    def count(batch: SqlBatch, day: str, column: str, amount: int = 1) -> None:
        batch.execute(
            f"INSERT INTO {{daily}} (day, {column}) VALUES (?, ?) ON CONFLICT (day)"
            f" DO UPDATE SET {column} = {{daily}}.{column} + excluded.{column}",
            (day, amount),
        )

    def add_line(batch: SqlBatch, oid: str, product: str, quantity: int, price: str) -> None:
        batch.execute(
            f"INSERT INTO {{sales_lines}} VALUES (?, ?, ?, ? * {_RATE} / 1000)"
            " ON CONFLICT (order_id, product)"
            " DO UPDATE SET quantity = {sales_lines}.quantity + excluded.quantity",
            (oid, product, quantity, cents(price), oid),
        )

    def move_sales(batch: SqlBatch, oid: str, sign: int) -> None:
        batch.execute(
            "INSERT INTO {product_sales} (product, quantity, revenue_cents, orders)"
            " SELECT product, ? * quantity, ? * quantity * eur_cents, ? FROM {sales_lines}"
            " WHERE order_id = ? ON CONFLICT (product) DO UPDATE SET"
            " quantity = {product_sales}.quantity + excluded.quantity,"
            " revenue_cents = {product_sales}.revenue_cents + excluded.revenue_cents,"
            " orders = {product_sales}.orders + excluded.orders",
            (sign, sign, sign, oid),
        )

    @handlers.on("OrderPlaced")
    def placed(event: RecordedEvent, batch: SqlBatch) -> None:
        oid, data = order_id(event), event.data
        rate = int(EUR_PER_UNIT.get(data["currency"], EUR_PER_UNIT["EUR"]) * 1000)
        batch.execute(
            "INSERT INTO {sales_orders} VALUES (?, ?)"
            " ON CONFLICT (order_id) DO UPDATE SET rate_permille = excluded.rate_permille",
            (oid, rate),
        )
        for item in data["items"]:
            add_line(batch, oid, item["product"], item["quantity"], item["unit_price"])
        count(batch, _day(event), "orders")

    @handlers.on("ItemAdded")
    def added(event: RecordedEvent, batch: SqlBatch) -> None:
        item = event.data["item"]
        add_line(batch, order_id(event), item["product"], item["quantity"], item["unit_price"])

    @handlers.on("ItemRemoved")
    def removed(event: RecordedEvent, batch: SqlBatch) -> None:
        batch.execute(
            "DELETE FROM {sales_lines} WHERE order_id = ? AND product = ?",
            (order_id(event), event.data["product"]),
        )

    @handlers.on("PaymentProcessed")
    def paid(event: RecordedEvent, batch: SqlBatch) -> None:
        oid, day = order_id(event), _day(event)
        count(batch, day, "paid")
        batch.execute(
            f"INSERT INTO {{daily}} (day, revenue_cents) VALUES (?, ? * {_RATE} / 1000)"
            " ON CONFLICT (day) DO UPDATE SET"
            " revenue_cents = {daily}.revenue_cents + excluded.revenue_cents",
            (day, cents(event.data["amount"]), oid),
        )
        move_sales(batch, oid, 1)

    @handlers.on("RefundIssued")
    def refunded(event: RecordedEvent, batch: SqlBatch) -> None:
        oid, day = order_id(event), _day(event)
        batch.execute(
            f"INSERT INTO {{daily}} (day, revenue_cents, refunds_cents)"
            f" VALUES (?, -(? * {_RATE} / 1000), ? * {_RATE} / 1000)"
            " ON CONFLICT (day) DO UPDATE SET"
            " revenue_cents = {daily}.revenue_cents + excluded.revenue_cents,"
            " refunds_cents = {daily}.refunds_cents + excluded.refunds_cents",
            (day, cents(event.data["amount"]), oid, cents(event.data["amount"]), oid),
        )
        move_sales(batch, oid, -1)

    @handlers.on("OrderShipped")
    def shipped(event: RecordedEvent, batch: SqlBatch) -> None:
        count(batch, _day(event), "shipped")

    @handlers.on("OrderCancelled")
    def cancelled(event: RecordedEvent, batch: SqlBatch) -> None:
        count(batch, _day(event), "cancelled")

    return Projection(
        "analytics",
        SqlSink(
            database,
            tables=["daily", "product_sales", "sales_orders", "sales_lines"],
            schema=SCHEMA,
        ),
        handlers,
        version=version,
        categories=frozenset({"order"}),
        upcast_batch=upcast,
        retry=HandlerRetry(max_attempts=3, backoff=0.05),
    )
