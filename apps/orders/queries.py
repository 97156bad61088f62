"""What the API asks of the read models. Every answer comes from a projection, never the events."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec

from apps.orders.read_models.order_detail import OrderFields
from eventbook.projections import ActiveView, ProjectionDatabase, SearchSink

ORDER_COLUMNS = (
    "order_id, customer, status, currency, total_cents, paid_cents, item_count, address,"
    " carrier, placed_at, updated_at, version, position"
)
# Each sort runs down an index of `orders` (alone, and after a status filter): keep the two
# directions of a sort the same, or the database sorts every matching order instead.
SORTS = {
    "-placed_at": "placed_at DESC, order_id DESC",
    "placed_at": "placed_at ASC, order_id ASC",
    "-total": "total_cents DESC, order_id DESC",
    "total": "total_cents ASC, order_id ASC",
    "-updated_at": "updated_at DESC, order_id DESC",
}
STREAMS_PAGE = (
    "SELECT stream, category, events, last_type, last_recorded_at FROM streams"
    " ORDER BY events DESC, stream DESC LIMIT ? OFFSET ?"  # down the (events, stream) index
)
SEARCH_LIMIT = 1000
"""Most search hits considered before filters and paging."""


def _money(value_cents: int) -> str:
    return str((Decimal(value_cents) / 100).quantize(Decimal("0.01")))


def _summary(row: Sequence[Any]) -> dict[str, Any]:
    (oid, customer, status, currency, total, paid, items, address, carrier, placed, updated,
     version, position) = row  # fmt: skip
    return {
        "order_id": oid,
        "customer": customer,
        "status": status,
        "currency": currency,
        "total": _money(total),
        "paid": _money(paid),
        "item_count": items,
        "shipping_address": msgspec.json.decode(address),
        "carrier": carrier,
        "placed_at": placed,
        "updated_at": updated,
        "version": version,
        "position": position,
    }


def order_page(order_id: str, fields: dict[str, str]) -> dict[str, Any] | None:
    """An order's page from its `order_detail` fields (the same from either store)."""
    if not fields:
        return None
    lines = sorted(
        (name.removeprefix("line:"), int(quantity))
        for name, quantity in fields.items()
        if name.startswith("line:")
    )
    items, total = [], 0
    for product, quantity in lines:
        price = int(fields[f"price:{product}"])
        total += quantity * price
        items.append(
            {
                "product": product,
                "quantity": quantity,
                "unit_price": _money(price),
                "amount": _money(quantity * price),
            }
        )
    return {
        "order_id": order_id,
        "customer": fields["customer"],
        "status": fields["status"],
        "currency": fields["currency"],
        "total": _money(total),
        "paid": _money(int(fields["paid_cents"])),
        "item_count": len(items),
        "shipping_address": msgspec.json.decode(fields["address"]),
        "carrier": fields.get("carrier"),
        "placed_at": fields["placed_at"],
        "updated_at": fields["updated_at"],
        "version": int(fields["version"]),
        "position": fields["position"],
        "items": items,
    }


class Queries:
    def __init__(
        self,
        database: ProjectionDatabase,
        search_index: SearchSink,
        order_detail: ActiveView[OrderFields],
    ) -> None:
        self._db = database
        self._search = search_index
        self.order_detail = order_detail
        """The order page's read model: SQL or Redis, whichever build is active."""

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(await self._db.fetch(sql, params))

    async def orders(
        self,
        *,
        status: str | None = None,
        customer: str | None = None,
        text: str | None = None,
        page: int = 1,
        page_size: int = 25,
        sort: str = "-placed_at",
    ) -> dict[str, Any]:
        """A page of orders, newest first, filtered; `text` ranks by full-text search."""
        where, params = [], []
        if status:
            where.append("status = ?")
            params.append(status)
        if customer:
            where.append("customer = ?")
            params.append(customer)
        if text:
            return await self._searched(text, where, params, page, page_size)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        total = (await self._fetch(f"SELECT COUNT(*) FROM orders{clause}", params))[0][0]
        rows = await self._fetch(
            f"SELECT {ORDER_COLUMNS} FROM orders{clause} ORDER BY {SORTS[sort]} LIMIT ? OFFSET ?",
            [*params, page_size, (page - 1) * page_size],
        )
        return _page([_summary(r) for r in rows], total, page, page_size)

    async def _searched(
        self, text: str, where: list[str], params: list[Any], page: int, page_size: int
    ) -> dict[str, Any]:
        hits = await self._search.search(text, limit=SEARCH_LIMIT)
        if not hits:
            return _page([], 0, page, page_size)
        scores = {hit.doc_id: hit.score for hit in hits}
        marks = ", ".join("?" * len(scores))
        clause = " AND ".join([f"order_id IN ({marks})", *where])
        rows = await self._fetch(
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE {clause}", [*scores, *params]
        )
        # Best match first; among equal matches, the newest order first.
        by_newest = sorted((_summary(r) for r in rows), key=lambda o: o["placed_at"], reverse=True)
        ranked = sorted(by_newest, key=lambda o: -scores[o["order_id"]])
        for order in ranked:
            order["score"] = round(scores[order["order_id"]], 4)
        start = (page - 1) * page_size
        return _page(ranked[start : start + page_size], len(ranked), page, page_size)

    async def order(self, order_id: str) -> dict[str, Any] | None:
        fields = await self.order_detail.read(lambda build: build.fields(order_id))
        return order_page(order_id, fields)

    async def analytics_summary(self) -> dict[str, Any]:
        row = (
            await self._fetch(
                "SELECT COALESCE(SUM(orders), 0), COALESCE(SUM(paid), 0),"
                " COALESCE(SUM(revenue_cents), 0), COALESCE(SUM(shipped), 0),"
                " COALESCE(SUM(cancelled), 0), COALESCE(SUM(refunds_cents), 0) FROM daily"
            )
        )[0]
        orders, paid, revenue, shipped, cancelled, refunds = (int(v) for v in row)
        return {
            "currency": "EUR",
            "orders": orders,
            "paid": paid,
            "revenue": _money(revenue),
            "average_order": _money(revenue // paid if paid else 0),
            "shipped": shipped,
            "cancelled": cancelled,
            "refunds": _money(refunds),
        }

    async def daily(self, days: int) -> list[dict[str, Any]]:
        rows = await self._fetch(
            "SELECT day, orders, paid, revenue_cents, shipped, cancelled FROM daily"
            " ORDER BY day DESC LIMIT ?",
            [days],
        )
        return [
            {"day": d, "orders": int(o), "paid": int(p), "revenue": _money(r),
             "shipped": int(s), "cancelled": int(c)}
            for d, o, p, r, s, c in reversed(rows)
        ]  # fmt: skip

    async def products(self, limit: int) -> list[dict[str, Any]]:
        rows = await self._fetch(
            "SELECT product, quantity, revenue_cents, orders FROM product_sales"
            " WHERE quantity > 0 ORDER BY revenue_cents DESC, product LIMIT ?",
            [limit],
        )
        return [
            {"product": p, "quantity": int(q), "revenue": _money(r), "orders": int(o)}
            for p, q, r, o in rows
        ]

    async def store_summary(self) -> dict[str, Any]:
        streams = (await self._fetch("SELECT COUNT(*), COALESCE(SUM(events), 0) FROM streams"))[0]
        types = await self._fetch("SELECT type, events FROM event_types ORDER BY events DESC")
        return {
            "streams": int(streams[0]),
            "events": int(streams[1]),
            "by_type": [{"type": t, "count": int(n)} for t, n in types],
        }

    async def streams(self, page: int, page_size: int) -> dict[str, Any]:
        total = (await self._fetch("SELECT COUNT(*) FROM streams"))[0][0]
        rows = await self._fetch(STREAMS_PAGE, [page_size, (page - 1) * page_size])
        items = [
            {"stream": s, "category": c, "events": int(n), "last_type": t, "last_recorded_at": at}
            for s, c, n, t, at in rows
        ]
        return _page(items, int(total), page, page_size)

    async def recent_events(self, limit: int) -> list[dict[str, Any]]:
        rows = await self._fetch(
            # The events of one append share their time; their positions are text, so a
            # shorter one is the smaller ("9" before "10").
            "SELECT position, stream, version, type, recorded_at FROM recent_events"
            " ORDER BY recorded_at DESC, LENGTH(position) DESC, position DESC LIMIT ?",
            [limit],
        )
        return [
            {"position": p, "stream": s, "version": int(v), "type": t, "recorded_at": at}
            for p, s, v, t, at in rows
        ]


def _page(items: list[dict[str, Any]], total: int, page: int, page_size: int) -> dict[str, Any]:
    return {"items": items, "total": int(total), "page": page, "page_size": page_size}
