"""`order_search`: full-text search over customer, products and shipping address.

The index keeps each field as its words (punctuation and accents dropped), so a handler
that changes a document reads the fields back from the document's `data`, where they are
kept as they were written.
"""

from __future__ import annotations

import msgspec

from apps.orders.read_models.common import address_text, order_id
from eventbook import STREAM_DELETED, RecordedEvent, metadata_stream
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


class Document(msgspec.Struct):
    """An order's searchable fields as written (kept in the index row's `data`)."""

    customer: str
    products: list[str]
    address: str


def order_search(
    database: ProjectionDatabase, upcast: BatchUpcaster, *, version: int = 1
) -> Projection[SearchBatch]:
    current = (
        "SELECT CAST(data AS TEXT), customer, products, address FROM {order_search}"
        " WHERE doc_id = ?"
    )
    handlers: HandlerMap[SearchBatch] = HandlerMap()

    async def indexed(event: RecordedEvent, batch: SearchBatch) -> Document | None:
        row = await batch.fetchone(current, (order_id(event),))
        if row is None:
            return None
        kept = msgspec.json.decode(row[0])
        if kept:
            return msgspec.convert(kept, Document)
        # A row indexed before its fields were kept in `data`: its words are all there is.
        return Document(row[1], [row[2]], row[3])

    def index(event: RecordedEvent, batch: SearchBatch, document: Document) -> None:
        fields = {
            "customer": document.customer,
            "products": " | ".join(document.products),
            "address": document.address,
        }
        batch.index(order_id(event), fields, msgspec.structs.asdict(document))

    @handlers.on("OrderPlaced")
    def placed(event: RecordedEvent, batch: SearchBatch) -> None:
        data = event.data
        products = [item["product"] for item in data["items"]]
        index(
            event,
            batch,
            Document(data["customer"], products, address_text(data["shipping_address"])),
        )

    @handlers.on("ItemAdded")
    async def added(event: RecordedEvent, batch: SearchBatch) -> None:
        document = await indexed(event, batch)
        product = event.data["item"]["product"]
        if document is not None and product not in document.products:
            document.products.append(product)
            index(event, batch, document)

    @handlers.on("ItemRemoved")
    async def removed(event: RecordedEvent, batch: SearchBatch) -> None:
        document = await indexed(event, batch)
        if document is not None:
            document.products = [p for p in document.products if p != event.data["product"]]
            index(event, batch, document)

    @handlers.on("ShippingAddressUpdated")
    async def moved(event: RecordedEvent, batch: SearchBatch) -> None:
        document = await indexed(event, batch)
        if document is not None:
            document.address = address_text(event.data["address"])
            index(event, batch, document)

    @handlers.on(STREAM_DELETED)
    def deleted(event: RecordedEvent, batch: SearchBatch) -> None:
        # An operator deleted the order's stream: nothing of it stays searchable.
        batch.remove(event.data["stream"].removeprefix("order-"))

    return Projection(
        "order_search",
        SearchSink(database, index="order_search", fields=FIELDS),
        handlers,
        version=version,
        categories=frozenset({"order", metadata_stream("order")}),
        upcast_batch=upcast,
        retry=HandlerRetry(max_attempts=3, backoff=0.05),
    )
