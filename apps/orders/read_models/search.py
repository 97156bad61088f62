"""`order_search`: full-text search over customer, products and shipping address."""

from __future__ import annotations

from apps.orders.read_models.common import address_text, order_id
from eventbook import RecordedEvent
from eventbook.projections import (
    BatchUpcaster,
    HandlerMap,
    HandlerRetry,
    Projection,
    ProjectionDatabase,
    SearchBatch,
    SearchSink,
)

FIELDS = {"customer": 3.0, "products": 1.5, "address": 1.0}


def order_search(
    database: ProjectionDatabase, upcast: BatchUpcaster, *, version: int = 1
) -> Projection[SearchBatch]:
    current = "SELECT customer, products, address FROM {order_search} WHERE doc_id = ?"
    handlers: HandlerMap[SearchBatch] = HandlerMap()

    async def indexed(event: RecordedEvent, batch: SearchBatch) -> dict[str, str] | None:
        row = await batch.fetchone(current, (order_id(event),))
        return None if row is None else {"customer": row[0], "products": row[1], "address": row[2]}

    @handlers.on("OrderPlaced")
    def placed(event: RecordedEvent, batch: SearchBatch) -> None:
        data = event.data
        products = " | ".join(item["product"] for item in data["items"])
        fields = {
            "customer": data["customer"],
            "products": products,
            "address": address_text(data["shipping_address"]),
        }
        batch.index(order_id(event), fields)

    @handlers.on("ItemAdded")
    async def added(event: RecordedEvent, batch: SearchBatch) -> None:
        fields = await indexed(event, batch)
        product = event.data["item"]["product"]
        if fields is not None and product not in fields["products"].split(" | "):
            batch.index(
                order_id(event), {**fields, "products": f"{fields['products']} | {product}"}
            )

    @handlers.on("ItemRemoved")
    async def removed(event: RecordedEvent, batch: SearchBatch) -> None:
        fields = await indexed(event, batch)
        if fields is not None:
            kept = [p for p in fields["products"].split(" | ") if p != event.data["product"]]
            batch.index(order_id(event), {**fields, "products": " | ".join(kept)})

    @handlers.on("ShippingAddressUpdated")
    async def moved(event: RecordedEvent, batch: SearchBatch) -> None:
        fields = await indexed(event, batch)
        if fields is not None:
            address = address_text(event.data["address"])
            batch.index(order_id(event), {**fields, "address": address})

    return Projection(
        "order_search",
        SearchSink(database, index="order_search", fields=FIELDS),
        handlers,
        version=version,
        categories=frozenset({"order"}),
        upcast_batch=upcast,
        retry=HandlerRetry(max_attempts=3, backoff=0.05),
    )
