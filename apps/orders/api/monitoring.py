"""For the Operations page (reader key): the store's sizes, and the last minutes of the
service's own metrics with its readiness checks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from apps.orders.api import problems, schemas
from apps.orders.api.security import READER, service_of

router = APIRouter(prefix="/api/operations", tags=["operations"], dependencies=[READER])

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
        **problems.responses(401, 403, 422),
    },
)
async def store_sizes(
    request: Request,
    top: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    return await service_of(request).store_sizes.read(top)


LATENCY = schemas.obj(
    {"per_second": schemas.NUMBER},
    optional={"p50": {"type": ["number", "null"]}, "p99": {"type": ["number", "null"]}},
)
HISTORY = schemas.obj(
    {
        "every": schemas.NUMBER,
        "points": {
            "type": "array",
            "items": schemas.obj(
                {
                    "at": schemas.NUMBER,
                    "command": LATENCY,
                    "append": LATENCY,
                    "lag": {
                        "type": "object",
                        "additionalProperties": schemas.obj(
                            {"events": schemas.NUMBER, "seconds": schemas.NUMBER},
                            optional={
                                "partitions": {
                                    "type": "object",
                                    "description": "a partitioned build's events behind, by"
                                    " partition (`events` is the worst one's)",
                                    "additionalProperties": schemas.NUMBER,
                                }
                            },
                        ),
                    },
                    "held_back": {"type": ["number", "null"]},
                }
            ),
        },
        "readiness": {"type": "object"},
    }
)


@router.get(
    "/history",
    summary="The last minutes of the service's metrics, and its readiness checks now",
    response_model=None,
    responses={
        200: {"description": "OK", "content": {"application/json": {"schema": HISTORY}}},
        **problems.responses(401, 403),
    },
)
async def history(request: Request) -> dict[str, Any]:
    service = service_of(request)
    found = await service.readiness()
    return {**service.metrics_history.series(), "readiness": found.as_dict()}
