"""The JSON schemas of the API's answers, as published in OpenAPI under `components/schemas`.

The read models build plain dictionaries; these schemas say what a client may rely on in
them (fields, types, formats), so that the published contract can be checked against
what the service really answers.
"""

from __future__ import annotations

from typing import Any

from apps.orders.api.examples import component_examples

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
COUNT: Schema = {"type": "integer", "minimum": 0}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
TIMESTAMP: Schema = {"type": "string", "format": "date-time"}
POSITION: Schema = {"type": "string", "pattern": r"^(?:[0-9]+:)?[0-9]+$"}
MONEY: Schema = {
    "type": "string",
    "pattern": r"^-?[0-9]+(?:\.[0-9]+)?$",
    "description": 'an exact amount as a decimal string: "1234.50"',
}
ORDER_STATUS: Schema = {"type": "string", "enum": ["placed", "paid", "shipped", "cancelled"]}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], *, optional: dict[str, Schema] | None = None) -> Schema:
    """An object with every one of `properties` required, and `optional` ones besides."""
    return {
        "type": "object",
        "required": list(properties),
        "properties": {**properties, **(optional or {})},
    }


def items_of(schema: Schema) -> Schema:
    return obj({"items": {"type": "array", "items": schema}})


def page_of(schema: Schema) -> Schema:
    return obj(
        {
            "items": {"type": "array", "items": schema},
            "total": COUNT,
            "page": {"type": "integer", "minimum": 1},
            "page_size": {"type": "integer", "minimum": 1},
        }
    )


ADDRESS = obj(
    {"name": STRING, "street": STRING, "city": STRING, "postcode": STRING, "country": STRING}
)

ORDER_SUMMARY = obj(
    {
        "order_id": STRING,
        "customer": STRING,
        "status": ORDER_STATUS,
        "currency": STRING,
        "total": MONEY,
        "paid": MONEY,
        "item_count": COUNT,
        "shipping_address": ref("Address"),
        "carrier": nullable(STRING),
        "placed_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
        "version": {"type": "integer", "minimum": 1},
        "position": POSITION,
    },
    optional={"score": {"type": "number", "description": "full-text relevance, with `q`"}},
)

ORDER_LINE = obj({"product": STRING, "quantity": COUNT, "unit_price": MONEY, "amount": MONEY})

ORDER = {
    "allOf": [
        ref("OrderSummary"),
        obj({"items": {"type": "array", "items": ref("OrderLine")}}),
    ]
}

STORED_EVENT = obj(
    {
        "id": {"type": "string", "format": "uuid"},
        "version": {"type": "integer", "minimum": 1},
        "position": POSITION,
        "type": STRING,
        "data": {"type": "object"},
        "metadata": {"type": "object"},
        "stored_schema_version": {"type": "integer", "minimum": 1},
        "recorded_at": TIMESTAMP,
    }
)

ORDER_EVENTS = obj(
    {"order_id": STRING, "items": {"type": "array", "items": ref("StoredEvent"), "minItems": 1}}
)

ORDER_STATE = obj(
    {
        "order_id": STRING,
        "version": {"type": "integer", "minimum": 1},
        "state": obj(
            {
                "order_id": STRING,
                "status": ORDER_STATUS,
                "customer": STRING,
                "customer_id": STRING,
                "email": nullable(STRING),
                "currency": STRING,
                "items": {
                    "type": "array",
                    "items": obj({"product": STRING, "quantity": COUNT, "unit_price": MONEY}),
                },
                "shipping_address": nullable(ref("Address")),
                "total": MONEY,
                "paid": MONEY,
            }
        ),
    }
)

ANALYTICS_SUMMARY = obj(
    {
        "currency": STRING,
        "orders": COUNT,
        "paid": COUNT,
        "revenue": MONEY,
        "average_order": MONEY,
        "shipped": COUNT,
        "cancelled": COUNT,
        "refunds": MONEY,
    }
)

DAY = obj(
    {
        "day": {"type": "string", "format": "date"},
        "orders": COUNT,
        "paid": COUNT,
        "revenue": MONEY,
        "shipped": COUNT,
        "cancelled": COUNT,
    }
)

PRODUCT_SALES = obj({"product": STRING, "quantity": COUNT, "revenue": MONEY, "orders": COUNT})

STORE_SUMMARY = obj(
    {
        "streams": COUNT,
        "events": COUNT,
        "by_type": {"type": "array", "items": obj({"type": STRING, "count": COUNT})},
        "head": nullable(POSITION),
    }
)

STREAM = obj(
    {
        "stream": STRING,
        "category": STRING,
        "events": COUNT,
        "last_type": STRING,
        "last_recorded_at": TIMESTAMP,
    }
)

RECENT_EVENT = obj(
    {
        "position": POSITION,
        "stream": STRING,
        "version": {"type": "integer", "minimum": 1},
        "type": STRING,
        "recorded_at": TIMESTAMP,
    }
)

PROJECTION_STATUS = obj(
    {
        "name": STRING,
        "version": INTEGER,
        "active": BOOLEAN,
        "state": STRING,
        "position": nullable(POSITION),
        "lag_events": COUNT,
        "lag_exact": BOOLEAN,
        "lag_seconds": {"type": "number", "minimum": 0},
        "parked": COUNT,
        "last_error": nullable(STRING),
        "last_error_at": nullable(NUMBER),
        "owner": nullable(STRING),
        "stuck": BOOLEAN,
        "waiting_for": nullable(STRING),
    },
    optional={
        "partitions": {
            "type": "array",
            "description": "each partition of a partitioned build ([] otherwise); the build's"
            " position is the slowest partition's, its lag the worst partition's",
            "items": obj(
                {
                    "partition": {"type": "integer", "minimum": 0},
                    "state": STRING,
                    "position": nullable(POSITION),
                    "lag_events": COUNT,
                    "lag_exact": BOOLEAN,
                    "lag_seconds": {"type": "number", "minimum": 0},
                    "owner": nullable(STRING),
                    "last_error": nullable(STRING),
                    "waiting_for": nullable(STRING),
                }
            ),
        },
        "rebuild": nullable(
            obj(
                {
                    "phase": {
                        "type": "string",
                        "enum": ["building", "switching", "retiring", "done", "failed"],
                    },
                    "from_version": INTEGER,
                    "to_version": INTEGER,
                    "events_done": COUNT,
                    "events_remaining": nullable(COUNT),
                    "events_remaining_exact": BOOLEAN,
                    "rate": {"type": "number", "minimum": 0, "description": "events/s"},
                    "eta_seconds": nullable(NUMBER),
                    "started_at": NUMBER,
                    "finished_at": nullable(NUMBER),
                    "error": nullable(STRING),
                }
            )
        ),
    },
)

PARKED_EVENT = obj(
    {
        "event_id": {"type": "string", "format": "uuid"},
        "position": POSITION,
        "stream": STRING,
        "type": STRING,
        "error": nullable(STRING),
        "attempts": COUNT,
    }
)

COMMAND_ACCEPTED = obj(
    {
        "order_id": STRING,
        "command_id": STRING,
        "version": nullable({"type": "integer", "minimum": 1}),
        "position": nullable(POSITION),
        "duplicate": BOOLEAN,
    }
)

PROBLEM = obj(
    {
        "type": {"type": "string", "description": "`/problems/<kind>`, one per kind of failure"},
        "title": STRING,
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": STRING,
    },
    optional={
        "errors": {
            "type": "array",
            "description": "with `invalid-request`: each field that was refused, and why",
            "items": obj({"field": STRING, "message": STRING}),
        }
    },
)

COMPONENTS: dict[str, Schema] = {
    "Problem": PROBLEM,
    "CommandAccepted": COMMAND_ACCEPTED,
    "Address": ADDRESS,
    "OrderSummary": ORDER_SUMMARY,
    "OrderLine": ORDER_LINE,
    "Order": ORDER,
    "OrderPage": page_of(ref("OrderSummary")),
    "StoredEvent": STORED_EVENT,
    "OrderEvents": ORDER_EVENTS,
    "OrderState": ORDER_STATE,
    "AnalyticsSummary": ANALYTICS_SUMMARY,
    "AnalyticsDays": items_of(DAY),
    "ProductSales": items_of(PRODUCT_SALES),
    "StoreSummary": STORE_SUMMARY,
    "StreamPage": page_of(STREAM),
    "RecentEvents": items_of(RECENT_EVENT),
    "Projections": items_of(PROJECTION_STATUS),
    "ParkedEvents": items_of(PARKED_EVENT),
}


def answer(name: str, status: int = 200, description: str = "OK") -> dict[int | str, Any]:
    """The `responses` entry of a JSON answer described by the component `name`, with the
    worked examples of such answers (`examples.py`)."""
    assert name in COMPONENTS, name
    content: dict[str, Any] = {"schema": ref(name)}
    if found := component_examples(name):
        content["examples"] = found
    return {status: {"description": description, "content": {"application/json": content}}}
