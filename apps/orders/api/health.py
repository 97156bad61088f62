"""Liveness, readiness and Prometheus metrics.

Open without an API key, like most health endpoints: they reveal no order data. Expose
`/metrics` only to the network your Prometheus scrapes from (docs/observability.md).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from apps.orders.api.security import service_of

router = APIRouter(tags=["operations"])


@router.get("/health/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "live"}


@router.get(
    "/health/ready",
    summary="Ready to serve: the store answers, no projection stuck, Redis answers",
    response_model=None,
    responses={503: {"description": "Not ready; `failed` names the failed checks"}},
)
async def ready(request: Request) -> JSONResponse:
    found = await service_of(request).readiness()
    body: dict[str, Any] = found.as_dict()
    return JSONResponse(body, status_code=200 if found.ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    service = service_of(request)
    await service.collect_metrics()
    body, content_type = service.observability.exposition()
    return Response(body, media_type=content_type)
