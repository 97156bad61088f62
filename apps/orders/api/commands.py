"""Command endpoints: `POST`, answered `202 Accepted` with where the events landed.

Bodies are validated by the command types themselves (msgspec), and the OpenAPI schema of
each body is generated from the same types, so the two never disagree. `Idempotency-Key`
becomes the command id (a retry returns the first result); `If-Match` carries the stream
version the client last saw (a mismatch is `412 Precondition Failed`).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

import msgspec
from fastapi import APIRouter, Header, Request, Security
from fastapi.responses import JSONResponse

from apps.orders.api.problems import Problem
from apps.orders.api.security import api_key_header, require_writer, service_of
from apps.orders.domain import commands as c
from apps.orders.handlers import EXPECTED_VERSION, VersionMismatch
from eventbook import uuid7
from eventbook.context import CommandMetadata

router = APIRouter(prefix="/api", tags=["commands"])
ORDER_IDS = UUID("3b8f0f6e-52a4-4c8e-9d61-6a0e4f2b7c19")

# (path, command type, summary): each becomes `POST /api<path>`.
ROUTES: list[tuple[str, type[Any], str]] = [
    ("/orders", c.PlaceOrder, "Place an order"),
    ("/orders/{order_id}/add-item", c.AddItem, "Add an item to an open order"),
    ("/orders/{order_id}/remove-item", c.RemoveItem, "Remove an item from an open order"),
    ("/orders/{order_id}/update-shipping-address", c.UpdateShippingAddress, "Change the address"),
    ("/orders/{order_id}/process-payment", c.ProcessPayment, "Pay the order's exact total"),
    ("/orders/{order_id}/ship", c.ShipOrder, "Ship a paid order"),
    ("/orders/{order_id}/cancel", c.CancelOrder, "Cancel (a paid order is refunded)"),
]

ACCEPTED = {
    "type": "object",
    "required": ["order_id", "command_id", "version", "position", "duplicate"],
    "properties": {
        "order_id": {"type": "string"},
        "command_id": {"type": "string"},
        "version": {"type": ["integer", "null"]},
        "position": {"type": ["string", "null"]},
        "duplicate": {"type": "boolean"},
    },
}


def new_order_id(command_id: str) -> str:
    """A new order's id, derived from its command id so that a retry names the same order."""
    return uuid5(ORDER_IDS, command_id).hex[:16]


def _if_match(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise Problem(
            400, "bad-if-match", "Bad If-Match", 'If-Match must be a stream version like "3"'
        )
    return int(text)


def _endpoint(command_type: type[Any]) -> Any:
    name = command_type.__name__

    async def accept(
        request: Request,
        api_key: str | None = Security(api_key_header),
        idempotency_key: str | None = Header(None, max_length=200),
        if_match: str | None = Header(None),
    ) -> JSONResponse:
        role = require_writer(request, api_key)
        try:
            body = msgspec.json.decode(await request.body())
        except msgspec.DecodeError as error:
            raise Problem(400, "malformed-json", "Malformed JSON", str(error)) from None
        if not isinstance(body, dict):
            raise Problem(422, "invalid-command", "Invalid command", "the body must be an object")
        if "order_id" in body:
            raise Problem(422, "invalid-command", "Invalid command", "order_id comes from the URL")
        command_id = idempotency_key or str(uuid7())
        order_id = request.path_params.get("order_id") or new_order_id(command_id)
        expected = _if_match(if_match)
        metadata = CommandMetadata(
            command_id=command_id,
            actor=f"api-{role.value}",
            extra={} if expected is None else {EXPECTED_VERSION: expected},
        )
        try:
            result = await service_of(request).bus.dispatch_payload(
                name, {**body, "order_id": order_id}, metadata
            )
        except VersionMismatch as mismatch:
            raise Problem(
                412,
                "version-mismatch",
                "Precondition failed",
                str(mismatch),
                expected_version=mismatch.expected,
                actual_version=mismatch.actual,
            ) from None
        answer = {
            "order_id": order_id,
            "command_id": result.command_id,
            "version": result.version,
            "position": None if result.position is None else str(result.position),
            "duplicate": result.duplicate,
        }
        headers = {"Location": f"/api/orders/{order_id}"}
        if result.version is not None:
            headers["ETag"] = f'"{result.version}"'
        return JSONResponse(answer, status_code=202, headers=headers)

    accept.__name__ = name
    return accept


def body_schema(command_type: type[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON schema of a command's body (without `order_id`) and the types it refers to."""
    _, components = msgspec.json.schema_components(
        [command_type], ref_template="#/components/schemas/{name}"
    )
    body = components.pop(command_type.__name__)
    body["properties"].pop("order_id", None)
    body["required"] = [f for f in body.get("required", []) if f != "order_id"]
    return body, components


for path, command_type, summary in ROUTES:
    body, _ = body_schema(command_type)
    router.add_api_route(
        path,
        _endpoint(command_type),
        methods=["POST"],
        status_code=202,
        summary=summary,
        name=command_type.__name__,
        responses={
            202: {"description": "Accepted", "content": {"application/json": {"schema": ACCEPTED}}},
            409: {"description": "A business rule was broken"},
            412: {"description": "The order is not at the If-Match version"},
            422: {"description": "The command is invalid"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": body}},
            }
        },
    )
