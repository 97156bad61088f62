"""For operators: forgetting a customer (their right to be forgotten)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from apps.orders.api import problems, schemas
from apps.orders.api.problems import Problem
from apps.orders.api.security import OPERATOR, service_of
from apps.orders.rebuilds import RebuildFailed

router = APIRouter(prefix="/api", tags=["operations"], responses=problems.responses(401))

CustomerId = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="the customer's id (`customer_id` of their orders; `guest-<order id>`"
        " for an order placed without one)",
    ),
]

FORGOTTEN = schemas.obj(
    {
        "customer_id": schemas.STRING,
        "forgotten": {
            "type": "boolean",
            "description": "false if the customer had no key (unknown, or forgotten before)",
        },
        "rebuilt": {
            "type": "array",
            "items": schemas.STRING,
            "description": "the read models rebuilt (the live feed holds no personal data)",
        },
        "rebuilt_in_place": {
            "type": "array",
            "items": schemas.STRING,
            "description": "those rebuilt in place, partial while it ran (the order page);"
            " the others were built beside the live build and readers switched to them",
        },
    }
)


@router.post(
    "/customers/{customer_id}/forget",
    summary="Forget a customer: destroy their key, rebuild the read models",
    description=(
        "The customer's name, e-mail and address lines are encrypted in the event store"
        " under a key of their own. This destroys the key, so those fields read as"
        " `[forgotten]` everywhere from now on, then rebuilds every read model from history"
        " and answers when they hold no copy of them: blue/green where it can (readers keep"
        " the old build until the new one has caught up; the old one is dropped before the"
        " answer), in place for the order page. Cannot be undone. Copies outside the"
        " store (backups, exports) are not reached: see docs/personal-data.md."
    ),
    response_model=None,
    responses={
        200: {
            "description": "Forgotten, and the read models rebuilt",
            "content": {"application/json": {"schema": FORGOTTEN}},
        },
        **problems.responses(403, 422),
        503: {
            "description": "The key is destroyed but a rebuild failed (`rebuild-failed`):"
            " its readers stay on the old build, which still holds the data; send it again",
            "content": {problems.MEDIA_TYPE: {"schema": schemas.ref("Problem")}},
        },
    },
    dependencies=[OPERATOR],
)
async def forget(request: Request, customer_id: CustomerId) -> dict[str, Any]:
    try:
        forgotten = await service_of(request).forget_customer(customer_id)
    except RebuildFailed as failed:
        raise Problem(
            503,
            "rebuild-failed",
            "Read models not rebuilt",
            f"the customer's key is destroyed, but {failed}: readers stay on the old build,"
            " which still holds their data; send the forget again",
        ) from None
    return forgotten.as_dict(customer_id)
