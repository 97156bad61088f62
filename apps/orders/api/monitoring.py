"""For the Operations page: the store's sizes (reader key), beside /metrics and /health."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Security

from apps.orders.api import problems, schemas
from apps.orders.api.security import api_key_header, role_of, service_of

router = APIRouter(prefix="/api/operations", tags=["operations"])

STREAM_SIZE = schemas.obj(
    {"stream": schemas.STRING, "events": schemas.COUNT, "bytes": schemas.COUNT}
)
STORE_SIZES = schemas.obj(
    {
        "supported": schemas.BOOLEAN,
        "largest_streams": {"type": "array", "items": STREAM_SIZE},
    },
    optional={
        "events": schemas.COUNT,
        "streams": schemas.COUNT,
        "bytes_on_disk": {"type": ["integer", "null"]},
        "events_per_type": {"type": "object", "additionalProperties": schemas.COUNT},
        "read_at": schemas.NUMBER,
        "detail": schemas.STRING,
    },
)


@router.get(
    "/store-sizes",
    summary="The store's totals and largest streams by size (as `eventbook stats`)",
    response_model=None,
    responses={
        200: {"description": "OK", "content": {"application/json": {"schema": STORE_SIZES}}},
        **problems.responses(401, 422),
    },
)
async def store_sizes(
    request: Request,
    top: Annotated[int, Query(ge=1, le=100)] = 10,
    api_key: str | None = Security(api_key_header),
) -> dict[str, Any]:
    role_of(request, api_key)  # any issued key
    return await service_of(request).store_sizes.read(top)
