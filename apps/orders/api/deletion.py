"""For operators: deleting an order's stream (a data-protection request, a test order).

The stream is soft-deleted (it reads as gone; nothing can be appended to it again) or,
with `hard=true`, tombstoned (its events are removed where the store allows). Either way
a `$stream-deleted` system event tells the read models, and the Orders list drops it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from apps.orders.api import problems, schemas
from apps.orders.api.commands import OrderIdPath
from apps.orders.api.problems import Problem
from apps.orders.api.security import OPERATOR, service_of
from apps.orders.handlers import stream_of
from eventbook import ANY, ConcurrencyError, StreamDeleted, StreamNotFound

router = APIRouter(prefix="/api", tags=["operations"], responses=problems.responses(401))

DELETED = schemas.obj(
    {
        "order_id": schemas.STRING,
        "stream": schemas.STRING,
        "deleted": {"type": "string", "enum": ["deleted", "tombstoned"]},
        "position": schemas.STRING,
    }
)


@router.delete(
    "/orders/{order_id}",
    summary="Delete an order's stream (operators only)",
    description=(
        "Soft-deletes the order's event stream: it reads as gone (commands on it answer 409"
        " `order-not-found`, or 410 if they raced the deletion; deleting it again is 410),"
        " and the order leaves the list once the read model has seen the deletion"
        " (wait with `min_position` = the answer's `position`). `hard=true` tombstones it:"
        " its events are removed and its id can never be used again."
        " `expected_version` deletes only if the order is still at that version."
    ),
    dependencies=[OPERATOR],
    response_model=None,
    responses={
        200: {"description": "Deleted", "content": {"application/json": {"schema": DELETED}}},
        **problems.responses(403, 404, 410, 412, 422, 503),
    },
)
async def delete_order(
    request: Request,
    order_id: OrderIdPath,
    hard: Annotated[bool, Query(description="Tombstone: remove the events for ever.")] = False,
    expected_version: Annotated[
        int | None, Query(ge=1, description="Delete only at this version.")
    ] = None,
) -> dict[str, Any]:
    store = service_of(request).store
    stream = stream_of(order_id)
    expected = ANY if expected_version is None else expected_version
    delete = store.tombstone_stream if hard else store.delete_stream
    try:
        result = await delete(stream, expected=expected)
    except StreamDeleted:
        raise  # answered as 410 by problems.install
    except StreamNotFound:
        raise Problem(404, "order-not-found", "Not found", f"no order {order_id!r}") from None
    except ConcurrencyError as mismatch:  # not at `expected_version`: as If-Match for commands
        raise Problem(
            412,
            "version-mismatch",
            "Precondition failed",
            f"order {order_id!r} is not at version {expected_version}: nothing was deleted",
            expected_version=expected_version,
            actual_version=mismatch.actual,
        ) from None
    return {
        "order_id": order_id,
        "stream": stream,
        "deleted": "tombstoned" if hard else "deleted",
        "position": str(result.position),
    }
