"""Liveness, readiness and Prometheus metrics.

Liveness and readiness are open without an API key, as orchestrators expect: they reveal
no order data. `/metrics` needs an operator key (`Authorization: Bearer`, as Prometheus
sends it) unless `ORDERS_METRICS_ACCESS=open` (docs/observability.md).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from apps.orders.api import problems
from apps.orders.api.security import metrics_access, service_of

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


@router.get(
    "/metrics",
    summary="Prometheus metrics (an operator key, unless ORDERS_METRICS_ACCESS=open)",
    response_class=Response,
    dependencies=[Depends(metrics_access)],
    responses=problems.responses(401, 403),
)
async def metrics(request: Request) -> Response:
    service = service_of(request)
    await service.collect_metrics()
    body, content_type = service.observability.exposition()
    return Response(body, media_type=content_type)
