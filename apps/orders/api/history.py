"""An order's history from the event store: its events, and its state at any version."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from apps.orders.api import problems, schemas
from apps.orders.api.commands import OrderIdPath
from apps.orders.api.problems import Problem
from apps.orders.api.security import READER, service_of
from apps.orders.handlers import stream_of
from eventbook import ValidationError

router = APIRouter(
    prefix="/api",
    tags=["history"],
    dependencies=[READER],
    responses=problems.responses(401),
)


@router.get(
    "/orders/{order_id}/events",
    summary="Every event of an order, oldest first",
    response_model=None,
    responses={**schemas.answer("OrderEvents"), **problems.responses(404, 422)},
)
async def order_events(request: Request, order_id: OrderIdPath) -> dict[str, Any]:
    service = service_of(request)
    stored = [e async for e in service.store.read_stream(stream_of(order_id))]
    if not stored:
        raise Problem(404, "order-not-found", "Not found", f"no order {order_id!r}")
    current = await service.events.upcast(stored)
    return {
        "order_id": order_id,
        "items": [
            {
                "id": str(e.id),
                "version": e.version,
                "position": str(e.position),
                "type": e.type,
                "data": e.data,
                "metadata": e.metadata,
                "stored_schema_version": original.metadata.get("schema_version", 1),
                "recorded_at": e.recorded_at.isoformat(),
            }
            for e, original in zip(current, stored, strict=True)
        ],
    }


@router.get(
    "/orders/{order_id}/state",
    summary="The order as it was at a version or a time (time travel)",
    description=(
        "`version=N`: the order after its Nth event (404 past its last). `as_of=` an ISO 8601"
        " time with its offset (`2026-05-01T12:00:00Z`): the order after the events recorded"
        " up to then (404 if it was placed later). Both: the order at the earlier of the two."
    ),
    response_model=None,
    responses={**schemas.answer("OrderState"), **problems.responses(404, 422)},
)
async def order_state(
    request: Request,
    order_id: OrderIdPath,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    as_of: Annotated[
        datetime | None, Query(description="a time with its offset: `2026-05-01T12:00:00Z`")
    ] = None,
) -> dict[str, Any]:
    service = service_of(request)
    if as_of is not None:
        return await _state_as_of(request, order_id, as_of, version)
    try:
        order = await service.orders.load(stream_of(order_id), at_version=version)
    except ValidationError as missing:  # the order never reached that version
        if await service.store.stream_version(stream_of(order_id)) == 0:
            raise Problem(404, "order-not-found", "Not found", f"no order {order_id!r}") from None
        raise Problem(404, "version-not-found", "Not found", str(missing)) from None
    if order.version == 0:
        raise Problem(404, "order-not-found", "Not found", f"no order {order_id!r}")
    return {"order_id": order_id, "version": order.version, "state": order.view()}


async def _state_as_of(
    request: Request, order_id: str, as_of: datetime, version: int | None
) -> dict[str, Any]:
    """The order at `as_of` (and at most at `version`, when both are given)."""
    if as_of.tzinfo is None:
        message = "give the time's offset: 2026-05-01T12:00:00Z or …+02:00"
        raise problems.invalid(
            "invalid-request", "Invalid request", [problems.field_error("as_of", message)]
        )
    service = service_of(request)
    stream = stream_of(order_id)
    last = await service.store.stream_version(stream)
    if last == 0:
        raise Problem(404, "order-not-found", "Not found", f"no order {order_id!r}")
    if version is not None and version > last:
        detail = f"order {order_id!r} is at version {last}; it has no version {version}"
        raise Problem(404, "version-not-found", "Not found", detail)
    order = await service.orders.load(stream, as_of=as_of)
    if order.version == 0:
        detail = f"order {order_id!r} was placed after {as_of.isoformat()}"
        raise Problem(404, "not-placed-yet", "Not found", detail)
    if version is not None and order.version > version:
        order = await service.orders.load(stream, at_version=version)
    return {"order_id": order_id, "version": order.version, "state": order.view()}
