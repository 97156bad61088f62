"""Command endpoints: `POST`, answered `202 Accepted` with where the events landed.

Bodies are validated by the command types themselves (msgspec), and the OpenAPI schema of
each body is generated from the same types, so the two never disagree. `Idempotency-Key`
becomes the command id (a retry returns the first result); `If-Match` carries the stream
version the client last saw (a mismatch is `412 Precondition Failed`). Path and headers are
constrained as the command types constrain them, so that OpenAPI says what is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Header, Path, Request, Security
from fastapi.responses import JSONResponse

from apps.orders.api import examples, problems, schemas
from apps.orders.api.problems import Problem
from apps.orders.api.security import api_key_header, authorize, service_of
from apps.orders.api_keys import Role
from apps.orders.domain import commands as c
from apps.orders.handlers import EXPECTED_VERSION, VersionMismatch
from eventbook import CommandMetadata, CommandValidationError, uuid7

router = APIRouter(prefix="/api", tags=["commands"])

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

AMOUNT: dict[str, Any] = {
    "anyOf": [
        {
            "type": "string",
            "pattern": r"^(?:(?:0|[1-9][0-9]{0,5})(?:\.[0-9]{1,2})?|1000000(?:\.00?)?)$",
        },
        {"type": "number", "minimum": 0, "maximum": 1_000_000, "multipleOf": 0.01},
    ],
    "description": 'an amount from 0 to 1000000 with at most two decimals: "12.50" (or 12.5)',
}
"""How the API documents a `Decimal` amount (a string, or a JSON number, both exact), with
the bounds `check_price` enforces."""

NO_NUL = r"^[^\x00]*$"
"""Free text may hold any character but NUL, which PostgreSQL cannot store."""

OrderIdPath = Annotated[str, Path(pattern=c.ORDER_ID_PATTERN, description="the order's id")]
IfMatch = Annotated[
    str | None,
    Header(
        pattern=r'^(?:W/)?(?:"[0-9]{1,18}"|[0-9]{1,18})$',
        description='the stream version the client last saw, as in an ETag: "3"',
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(max_length=200, description="a retry with the same key returns the first result"),
]


def _number(text: str) -> int | float:
    """A JSON number with no fraction is an integer, as JSON Schema has it: `2.0` is `2`."""
    value = float(text)
    return int(value) if value.is_integer() and abs(value) <= 2**53 else value


BODIES = msgspec.json.Decoder(float_hook=_number)


def _if_match(value: str | None) -> int | None:
    """The version in an If-Match header its pattern has admitted."""
    return None if value is None else int(value.removeprefix("W/").strip('"'))


def _endpoint(command_type: type[Any], *, new_order: bool) -> Any:
    name = command_type.__name__

    async def accept(
        request: Request,
        order_id: str | None,
        api_key: str | None,
        idempotency_key: str | None,
        if_match: str | None,
    ) -> JSONResponse:
        role = authorize(request, api_key, Role.WRITER).role
        assert role is not None  # a writer is never anonymous
        _require_json(request.headers.get("content-type"))
        try:
            body = BODIES.decode(await request.body())
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as error:
            detail = "JSON nested too deeply" if isinstance(error, RecursionError) else str(error)
            raise Problem(400, "malformed-json", "Malformed JSON", detail) from None
        if not isinstance(body, dict):
            raise Problem(422, "invalid-command", "Invalid command", "the body must be an object")
        command_id = idempotency_key or str(uuid7())
        order_id = order_id or c.new_order_id(command_id)
        if errors := _body_errors(body):
            # Reported with what the command type finds wrong, so one 422 names them all.
            try:
                service_of(request).bus.check_payload(name, {**body, "order_id": order_id})
            except CommandValidationError as typed:
                named = {e["field"] for e in errors}
                errors += [e for e in problems.command_errors(typed) if e["field"] not in named]
            raise problems.invalid("invalid-command", "Invalid command", errors)
        expected = _if_match(if_match)
        metadata = CommandMetadata(
            command_id=command_id,
            correlation_id=getattr(request.state, "correlation_id", None),
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

    if new_order:

        async def place(
            request: Request,
            api_key: str | None = Security(api_key_header),
            idempotency_key: IdempotencyKey = None,
            if_match: IfMatch = None,
        ) -> JSONResponse:
            return await accept(request, None, api_key, idempotency_key, if_match)

        place.__name__ = name
        return place

    async def change(
        request: Request,
        order_id: OrderIdPath,
        api_key: str | None = Security(api_key_header),
        idempotency_key: IdempotencyKey = None,
        if_match: IfMatch = None,
    ) -> JSONResponse:
        return await accept(request, order_id, api_key, idempotency_key, if_match)

    change.__name__ = name
    return change


def _documented(schema: Any) -> Any:
    """`schema` as the API checks it: each `Decimal` (a string of format `decimal`) is an
    `AMOUNT`, and free text admits no NUL."""
    if isinstance(schema, dict):
        if schema.get("format") == "decimal":
            return dict(AMOUNT)
        if schema.get("type") == "string" and "pattern" not in schema:
            return {**schema, "pattern": NO_NUL}
        return {key: _documented(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_documented(value) for value in schema]
    return schema


def _require_json(content_type: str | None) -> None:
    media, _, parameters = (content_type or "").partition(";")
    media = media.strip().lower()
    charset = next(
        (p.split("=", 1)[1].strip().strip('"').lower() for p in parameters.split(";") if "=" in p),
        "utf-8",
    )
    if (media == "application/json" or media.endswith("+json")) and charset in ("utf-8", "utf8"):
        return
    raise Problem(
        415,
        "unsupported-media-type",
        "Unsupported media type",
        f"send the command as application/json in UTF-8, not {content_type or 'no content type'}",
    )


AMOUNT_TEXT = re.compile(AMOUNT["anyOf"][0]["pattern"])
AMOUNT_FIELDS = ("amount", "unit_price")


def _body_errors(body: dict[str, Any]) -> list[dict[str, str]]:
    """What the command types cannot see wrong in a body, in one walk over it: an amount
    given as text outside the documented form ("12.50": Python's `Decimal` would also read
    "1e2", "1_000" or " 5 "), an `order_id` (it comes from the URL), or a NUL character
    (PostgreSQL cannot store it: refused on every profile alike)."""
    errors = []
    if "order_id" in body:
        errors.append(problems.field_error("order_id", "comes from the URL, not the body"))
    for place, key, item in _entries(body):
        if "\x00" in key or (isinstance(item, str) and "\x00" in item):
            errors.append(problems.field_error(place, "text may not contain NUL"))
        elif key in AMOUNT_FIELDS and isinstance(item, str) and not AMOUNT_TEXT.fullmatch(item):
            message = f'{item[:40]!r} is not an amount such as "12.50"'
            errors.append(problems.field_error(place, message))
    return errors


def _entries(value: Any, where: str = "") -> Iterator[tuple[str, str, Any]]:
    """Every object member and array element below `value`: its place, its key (an
    element's is ""), its value."""
    if isinstance(value, dict):
        for key, item in value.items():
            place = f"{where}.{key}" if where else str(key)
            yield place, str(key), item
            yield from _entries(item, place)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            place = f"{where}[{index}]"
            yield place, "", item
            yield from _entries(item, place)


def body_schema(command_type: type[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON schema of a command's body (without `order_id`) and the types it refers to."""
    _, components = msgspec.json.schema_components(
        [command_type], ref_template="#/components/schemas/{name}"
    )
    body = _documented(components.pop(command_type.__name__))
    body["properties"].pop("order_id", None)
    body["required"] = [f for f in body.get("required", []) if f != "order_id"]
    return body, {name: _documented(schema) for name, schema in components.items()}


def _responses(command_type: type[Any]) -> dict[int | str, Any]:
    """The answers a command may get, each with its worked examples (`examples.py`)."""
    responses = {
        **schemas.answer("CommandAccepted", 202, "Accepted: the events are stored"),
        **problems.responses(400, 401, 403, 409, 412, 413, 415, 422, 503),
    }
    for status, response in responses.items():
        found = examples.answer_examples(command_type.__name__, int(status))
        for content in response.get("content", {}).values():
            if found:
                content["examples"] = found
    return responses


for path, command_type, summary in ROUTES:
    body, _ = body_schema(command_type)
    router.add_api_route(
        path,
        _endpoint(command_type, new_order="{order_id}" not in path),
        methods=["POST"],
        status_code=202,
        summary=summary,
        name=command_type.__name__,
        responses=_responses(command_type),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": body,
                        "examples": examples.request_examples(command_type.__name__),
                    }
                },
            }
        },
    )
