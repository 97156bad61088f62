"""Query endpoints: answered from read models only, with optional read-your-writes.

`min_position` (a position a command returned) makes the endpoint wait, up to a bound,
until the read model it reads has processed that position; past the bound it answers
`503` with how far behind the read model is, rather than serve a state without the write.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from apps.orders.api import problems, schemas
from apps.orders.api.commands import NO_NUL, OrderIdPath
from apps.orders.api.problems import Problem
from apps.orders.api.security import READER, service_of
from apps.orders.queries import SORTS
from eventbook import Position, ValidationError
from eventbook.projections import ProjectionTimeout, wait_for

router = APIRouter(
    prefix="/api",
    tags=["queries"],
    dependencies=[READER],
    responses=problems.responses(401),
)

READ_YOUR_WRITES_TIMEOUT = 5.0
Status = Literal["placed", "paid", "shipped", "cancelled"]
Sort = Literal["-placed_at", "placed_at", "-total", "total", "-updated_at"]
PageSize = Annotated[int, Query(ge=1, le=200)]
PageNumber = Annotated[int, Query(ge=1, le=100_000)]
MinPosition = Annotated[
    str | None,
    Query(
        pattern=r"^(?:[0-9]{1,19}:)?[0-9]{1,19}$",
        description="wait until the read model includes this position (from a command reply;"
        " `123` on SQLite, `45:123` on PostgreSQL: another store's shape is refused with 422)",
    ),
]
Customer = Annotated[
    str,
    Path(
        min_length=1,
        max_length=120,
        pattern=r"^[^/\x00]+$",
        description="a customer's name (any name: filter `GET /api/orders` by `customer`)",
    ),
]
LARGEST_POSITION = 2**63 - 1
"""Positions are 64-bit integers in every store."""


def position_pattern(events_url: str) -> str:
    """The shape of this service's positions, which the OpenAPI schema states and
    `min_position` must have: a position of another store's shape could never be reached."""
    if events_url.startswith(("postgresql:", "postgres:")):
        return r"^[1-9][0-9]{0,18}:[0-9]{1,19}$"  # a transaction id, then a sequence number
    return r"^[0-9]{1,19}$"


assert set(SORTS) == set(Sort.__args__)  # type: ignore[attr-defined]


async def caught_up(request: Request, projection_name: str, min_position: str | None) -> None:
    if min_position is None:
        return
    try:
        wanted = Position.parse(min_position)
    except ValidationError as error:
        raise Problem(422, "invalid-position", "Invalid min_position", str(error)) from None
    if max(wanted.major, wanted.minor) > LARGEST_POSITION:
        raise Problem(
            422, "invalid-position", "Invalid min_position", f"no store has position {wanted}"
        )
    service = service_of(request)
    shape = position_pattern(service.settings.events_url)
    if re.fullmatch(shape, min_position) is None:
        example = "45:123" if ":" in shape else "123"
        raise Problem(
            422,
            "invalid-position",
            "Invalid min_position",
            f"{min_position!r} cannot come from this service's store, whose positions look"
            f" like {example!r}",
        )
    projection = await service.serving(projection_name)
    assert projection is not None
    try:
        await wait_for(projection, wanted, READ_YOUR_WRITES_TIMEOUT, store=service.store)
    except ValidationError as foreign:  # another store's shape: no wait could ever end
        raise Problem(422, "invalid-position", "Invalid min_position", str(foreign)) from None
    except ProjectionTimeout as late:
        raise Problem(
            503, "read-model-behind", "Read model behind", str(late), projection=projection_name
        ) from None


@router.get(
    "/orders",
    summary="Orders, filtered and paged; `q` searches full text",
    response_model=None,
    responses={**schemas.answer("OrderPage"), **problems.responses(422, 503)},
)
async def list_orders(
    request: Request,
    q: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    status: Status | None = None,
    customer: Annotated[str | None, Query(max_length=120, pattern=NO_NUL)] = None,
    sort: Sort = "-placed_at",
    page: PageNumber = 1,
    page_size: PageSize = 25,
    min_position: MinPosition = None,
) -> dict[str, Any]:
    if q:  # a search ranks with the index, then reads the orders it found from the list
        await caught_up(request, "order_search", min_position)
    await caught_up(request, "orders", min_position)
    return await service_of(request).queries.orders(
        status=status,
        customer=customer,
        text=q or None,
        page=page,
        page_size=page_size,
        sort=sort,
    )


@router.get(
    "/orders/{order_id}",
    summary="One order, with its items",
    response_model=None,
    responses={**schemas.answer("Order"), **problems.responses(404, 422, 503)},
)
async def get_order(
    request: Request, order_id: OrderIdPath, response: Response, min_position: MinPosition = None
) -> dict[str, Any]:
    await caught_up(request, "order_detail", min_position)
    order = await service_of(request).queries.order(order_id)
    if order is None:
        raise Problem(404, "order-not-found", "Not found", f"no order {order_id!r}")
    response.headers["ETag"] = f'"{order["version"]}"'
    return order


@router.get(
    "/customers/{customer}/orders",
    summary="A customer's order history",
    response_model=None,
    responses={**schemas.answer("OrderPage"), **problems.responses(422, 503)},
)
async def customer_orders(
    request: Request,
    customer: Customer,
    page: PageNumber = 1,
    page_size: PageSize = 25,
    min_position: MinPosition = None,
) -> dict[str, Any]:
    await caught_up(request, "orders", min_position)
    return await service_of(request).queries.orders(
        customer=customer, page=page, page_size=page_size
    )


@router.get(
    "/analytics/summary",
    summary="Totals over all days, in euros",
    response_model=None,
    responses={**schemas.answer("AnalyticsSummary"), **problems.responses(422, 503)},
)
async def analytics_summary(request: Request, min_position: MinPosition = None) -> dict[str, Any]:
    await caught_up(request, "analytics", min_position)
    return await service_of(request).queries.analytics_summary()


@router.get(
    "/analytics/daily",
    summary="Orders and revenue per day, oldest first",
    response_model=None,
    responses={**schemas.answer("AnalyticsDays"), **problems.responses(422)},
)
async def analytics_daily(
    request: Request, days: Annotated[int, Query(ge=1, le=3660)] = 60
) -> dict[str, Any]:
    return {"items": await service_of(request).queries.daily(days)}


@router.get(
    "/analytics/products",
    summary="Products by revenue, best first",
    response_model=None,
    responses={**schemas.answer("ProductSales"), **problems.responses(422)},
)
async def analytics_products(
    request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 10
) -> dict[str, Any]:
    return {"items": await service_of(request).queries.products(limit)}
