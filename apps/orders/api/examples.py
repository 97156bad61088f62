"""Worked examples of the HTTP API, in one place: the OpenAPI schema shows them, the
"Examples" section of docs/orders-service.md prints them, and
`tests/orders/test_examples.py` replays them in order against a fresh service and checks
every answer, so the three cannot drift apart.

`EXCHANGES` is one story, replayed in this order on an empty store: Ada's order goes
through every command (with a retry, a refused command, a stale `If-Match` and an invalid
body on the way), Grace's order is cancelled, then the main queries read the result.
Values that differ from run to run (positions, times) are checked by their shape
(`VARYING`), every other value exactly.

`python -m apps.orders.api.examples` prints the documentation's section again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from apps.orders.domain.commands import new_order_id

WRITER_KEY = "example-writer-key-4b1d9f0c2e7a"
READER_KEY = "example-reader-key-8c3e5a7f1d2b"
OPERATOR_KEY = "example-operator-key-6f2a0d9e4c1b"
"""The keys the examples send: a service started with them (`ORDERS_WRITER_KEY`, …)
answers the examples exactly as documented."""
WRITER = {"X-API-Key": WRITER_KEY}
READER = {"X-API-Key": READER_KEY}
JSON = {"Content-Type": "application/json"}
PROBLEM = {"Content-Type": "application/problem+json"}

VARYING: dict[str, re.Pattern[str]] = {
    "position": re.compile(r"(?:[0-9]+:)?[0-9]+"),
    "placed_at": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(?:Z|[+-][0-9:]+)"),
    "updated_at": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(?:Z|[+-][0-9:]+)"),
}
"""Fields whose value depends on the store and the clock: matched by shape, by name."""

ADA = new_order_id("order-2026-0001")
GRACE = new_order_id("order-2026-0002")
ADA_ADDRESS = {
    "name": "Ada Lovelace",
    "street": "12 St James's Square",
    "city": "London",
    "postcode": "SW1Y 4JH",
    "country": "GB",
}
ADA_NEW_ADDRESS = {**ADA_ADDRESS, "street": "1 Dorset Street", "postcode": "W1U 4EF"}
GRACE_ADDRESS = {
    "name": "Grace Hopper",
    "street": "Seestrasse 21",
    "city": "Zürich",
    "postcode": "8002",
    "country": "CH",
}
PLACE_ADA = {
    "customer": "Ada Lovelace",
    "customer_id": "cus-ada",
    "email": "ada@example.org",
    "items": [{"product": "Tea sampler", "quantity": 2, "unit_price": "28.00"}],
    "shipping_address": ADA_ADDRESS,
    "currency": "GBP",
}
TIME = "2026-05-04T09:12:31.204518Z"
WIDTH = 88
"""The longest JSON line the documentation prints."""


@dataclass(frozen=True)
class Exchange:
    """One request and the answer it gets at its place in the story."""

    name: str
    """Its key among the operation's OpenAPI examples."""
    title: str
    operation: str
    """The route's name: the command type, or the query function."""
    method: str
    path: str
    """As sent, with its query string."""
    headers: dict[str, str]
    body: Any
    status: int
    answer: Any
    answer_headers: dict[str, str] = field(default_factory=dict)
    component: str | None = None
    """The schema of a query's answer (its OpenAPI examples live there)."""

    @property
    def route(self) -> str:
        """The path as the OpenAPI schema names it."""
        path = self.path.partition("?")[0]
        return re.sub(r"^/api/orders/[0-9a-f]{16}", "/api/orders/{order_id}", path)


def _accepted(order_id: str, command_id: str, version: int, *, duplicate: bool = False) -> Any:
    return {
        "order_id": order_id,
        "command_id": command_id,
        "version": version,
        "position": "1042",
        "duplicate": duplicate,
    }


def _command(
    name: str,
    title: str,
    operation: str,
    path: str,
    body: Any,
    *,
    key: str,
    version: int,
    order_id: str = ADA,
    headers: dict[str, str] | None = None,
    duplicate: bool = False,
) -> Exchange:
    """A command sent with `Idempotency-Key: key`, accepted at `version`."""
    return Exchange(
        name,
        title,
        operation,
        "POST",
        path,
        {**WRITER, "Idempotency-Key": key, **(headers or {}), **JSON},
        body,
        202,
        _accepted(order_id, key, version, duplicate=duplicate),
        {**JSON, "Location": f"/api/orders/{order_id}", "ETag": f'"{version}"'},
    )


def _refused(
    name: str,
    title: str,
    operation: str,
    path: str,
    body: Any,
    status: int,
    problem: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> Exchange:
    return Exchange(
        name,
        title,
        operation,
        "POST",
        path,
        {**WRITER, **(headers or {}), **JSON},
        body,
        status,
        {"status": status, **problem},
        PROBLEM,
    )


def _query(
    name: str, title: str, operation: str, path: str, component: str, answer: Any, **headers: str
) -> Exchange:
    return Exchange(
        name,
        title,
        operation,
        "GET",
        path,
        READER,
        None,
        200,
        answer,
        {**JSON, **headers},
        component,
    )


ADA_ITEMS = [{"product": "Pour-over kettle", "quantity": 1, "unit_price": "49.50"}]
ADA_SUMMARY = {
    "order_id": ADA,
    "customer": "Ada Lovelace",
    "status": "shipped",
    "currency": "GBP",
    "total": "49.50",
    "paid": "49.50",
    "item_count": 1,
    "shipping_address": ADA_NEW_ADDRESS,
    "carrier": "DHL",
    "placed_at": TIME,
    "updated_at": "2026-05-04T15:40:02.917350Z",
    "version": 6,
    "position": "1047",
}

EXCHANGES: list[Exchange] = [
    _command(
        "place-order",
        "Place an order",
        "PlaceOrder",
        "/api/orders",
        PLACE_ADA,
        key="order-2026-0001",
        version=1,
    ),
    _command(
        "place-order-retried",
        "Send the same command again (a retry)",
        "PlaceOrder",
        "/api/orders",
        PLACE_ADA,
        key="order-2026-0001",
        version=1,
        duplicate=True,
    ),
    _command(
        "add-item",
        "Add an item, if the order is still at version 1",
        "AddItem",
        f"/api/orders/{ADA}/add-item",
        {"product": "Pour-over kettle", "quantity": 1, "unit_price": "49.50"},
        key="add-2026-0001",
        version=2,
        headers={"If-Match": '"1"'},
    ),
    _command(
        "remove-item",
        "Remove an item",
        "RemoveItem",
        f"/api/orders/{ADA}/remove-item",
        {"product": "Tea sampler"},
        key="remove-2026-0001",
        version=3,
    ),
    _command(
        "update-shipping-address",
        "Change the shipping address",
        "UpdateShippingAddress",
        f"/api/orders/{ADA}/update-shipping-address",
        {"address": ADA_NEW_ADDRESS},
        key="address-2026-0001",
        version=4,
    ),
    _command(
        "process-payment",
        "Pay the order's exact total",
        "ProcessPayment",
        f"/api/orders/{ADA}/process-payment",
        {"amount": "49.50", "method": "card"},
        key="payment-2026-0001",
        version=5,
    ),
    _command(
        "ship",
        "Ship the paid order",
        "ShipOrder",
        f"/api/orders/{ADA}/ship",
        {"carrier": "DHL"},
        key="ship-2026-0001",
        version=6,
    ),
    _refused(
        "cancel-shipped",
        "A broken business rule: 409",
        "CancelOrder",
        f"/api/orders/{ADA}/cancel",
        {"reason": "changed my mind"},
        409,
        {
            "type": "/problems/order-already-shipped",
            "title": "Business rule broken",
            "detail": f"order {ADA} has shipped; it cannot be cancelled",
            "rule": "OrderAlreadyShipped",
        },
    ),
    _refused(
        "stale-if-match",
        "An order no longer at the If-Match version: 412",
        "AddItem",
        f"/api/orders/{ADA}/add-item",
        {"product": "Milk jug", "quantity": 1, "unit_price": "12.00"},
        412,
        {
            "type": "/problems/version-mismatch",
            "title": "Precondition failed",
            "detail": f"order {ADA} is at version 6, not 2",
            "expected_version": 2,
            "actual_version": 6,
        },
        headers={"If-Match": '"2"'},
    ),
    _refused(
        "invalid-command",
        "An invalid command, every bad field at once: 422",
        "PlaceOrder",
        "/api/orders",
        {
            "customer": "",
            "items": [{"product": "Tea sampler", "quantity": 0, "unit_price": "28.00"}],
            "shipping_address": ADA_ADDRESS,
            "currency": "USD",
            "colour": "blue",
        },
        422,
        {
            "type": "/problems/invalid-command",
            "title": "Invalid command",
            "detail": "check: customer, items[0].quantity, currency, colour",
            "errors": [
                {"field": "customer", "message": "Expected `str` of length >= 1, got ''"},
                {"field": "items[0].quantity", "message": "Expected `int` >= 1, got 0"},
                {
                    "field": "currency",
                    "message": "Invalid enum value 'USD'; expected one of 'EUR', 'GBP', 'CHF'",
                },
                {"field": "colour", "message": "unknown field"},
            ],
        },
    ),
    _command(
        "place-another-order",
        "Place another order, in Swiss francs",
        "PlaceOrder",
        "/api/orders",
        {
            "customer": "Grace Hopper",
            "items": [{"product": "Espresso cups", "quantity": 6, "unit_price": "7.20"}],
            "shipping_address": GRACE_ADDRESS,
            "currency": "CHF",
        },
        key="order-2026-0002",
        version=1,
        order_id=GRACE,
    ),
    _command(
        "cancel",
        "Cancel an order (a paid one would be refunded)",
        "CancelOrder",
        f"/api/orders/{GRACE}/cancel",
        {"reason": "ordered twice"},
        key="cancel-2026-0002",
        version=2,
        order_id=GRACE,
    ),
    _query(
        "one-order",
        "One order, with its items",
        "get_order",
        f"/api/orders/{ADA}",
        "Order",
        {**ADA_SUMMARY, "items": [{**ADA_ITEMS[0], "amount": "49.50"}]},
        ETag='"6"',
    ),
    _query(
        "orders-of-a-customer",
        "Orders, filtered",
        "list_orders",
        "/api/orders?customer=Ada%20Lovelace&status=shipped",
        "OrderPage",
        {"items": [ADA_SUMMARY], "total": 1, "page": 1, "page_size": 25},
    ),
    _query(
        "state-at-a-version",
        "The order as it was at version 2 (time travel)",
        "order_state",
        f"/api/orders/{ADA}/state?version=2",
        "OrderState",
        {
            "order_id": ADA,
            "version": 2,
            "state": {
                "order_id": ADA,
                "status": "placed",
                "customer": "Ada Lovelace",
                "customer_id": "cus-ada",
                "email": "ada@example.org",
                "currency": "GBP",
                "items": [
                    {"product": "Tea sampler", "quantity": 2, "unit_price": "28.00"},
                    *ADA_ITEMS,
                ],
                "shipping_address": ADA_ADDRESS,
                "total": "105.50",
                "paid": "0.00",
            },
        },
    ),
]


def _openapi_example(exchange: Exchange, value: Any) -> dict[str, Any]:
    return {"summary": exchange.title, "value": value}


def request_examples(operation: str) -> dict[str, Any]:
    """The OpenAPI `examples` of an operation's request body: its accepted commands (the
    refused ones are shown with their answers)."""
    found: dict[str, Any] = {}
    for exchange in EXCHANGES:
        new = all(example["value"] != exchange.body for example in found.values())
        if exchange.operation == operation and exchange.status < 400 and new:
            found[exchange.name] = _openapi_example(exchange, exchange.body)
    return found


def answer_examples(operation: str, status: int) -> dict[str, Any]:
    """The OpenAPI `examples` of an operation's answers with `status`."""
    return {
        exchange.name: {
            **_openapi_example(exchange, exchange.answer),
            **({"description": _described(exchange)} if exchange.status >= 400 else {}),
        }
        for exchange in EXCHANGES
        if exchange.operation == operation and exchange.status == status
    }


def component_examples(component: str) -> dict[str, Any]:
    """The OpenAPI `examples` of answers whose schema is `component`."""
    return {
        exchange.name: _openapi_example(exchange, exchange.answer)
        for exchange in EXCHANGES
        if exchange.component == component
    }


def _described(exchange: Exchange) -> str:
    headers = ", ".join(
        f"`{name}: {value}`" for name, value in exchange.headers.items() if name != "X-API-Key"
    )
    return f"The answer to `{json_text(exchange.body, None)}` sent with {headers}"


def json_text(value: Any, indent: int | None = 2, *, depth: int = 0) -> str:
    """JSON as the documentation prints it: an object or list that fits on a line stays on
    one line, others take a line per member (`indent=None`: all on one line)."""
    flat = json.dumps(value, ensure_ascii=False)
    if indent is None or len(flat) + indent * depth <= WIDTH or not isinstance(value, dict | list):
        return flat
    inner = " " * indent * (depth + 1)
    if isinstance(value, dict):
        members = [
            f"{inner}{json.dumps(key)}: {json_text(item, indent, depth=depth + 1)}"
            for key, item in value.items()
        ]
        opening, closing = "{", "}"
    else:
        members = [f"{inner}{json_text(item, indent, depth=depth + 1)}" for item in value]
        opening, closing = "[", "]"
    return opening + "\n" + ",\n".join(members) + "\n" + " " * indent * depth + closing


def request_text(exchange: Exchange) -> str:
    """The request as the documentation prints it."""
    lines = [f"{exchange.method} {exchange.path}"]
    lines += [f"{name}: {value}" for name, value in exchange.headers.items()]
    if exchange.body is not None:
        lines += ["", json_text(exchange.body)]
    return "\n".join(lines)


def answer_text(exchange: Exchange) -> str:
    """The answer as the documentation prints it."""
    lines = [f"HTTP/1.1 {exchange.status} {HTTPStatus(exchange.status).phrase}"]
    lines += [f"{name}: {value}" for name, value in exchange.answer_headers.items()]
    lines += ["", json_text(exchange.answer)]
    return "\n".join(lines)


def markdown() -> str:
    """The documentation's examples, one subsection each."""
    parts = []
    for exchange in EXCHANGES:
        parts.append(f"### {exchange.title}\n")
        parts.append(f"```http\n{request_text(exchange)}\n```\n")
        parts.append(f"```http\n{answer_text(exchange)}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    print(markdown())
