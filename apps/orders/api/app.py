"""The FastAPI application: the API under /api, the dashboard at /."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from apps.orders.api import (
    commands,
    customers,
    deletion,
    docs,
    health,
    history,
    keys,
    monitoring,
    operations,
    problems,
    queries,
    schemas,
)
from apps.orders.api.limits import BodyLimit
from apps.orders.api.parameters import known_query_only
from apps.orders.api.telemetry import RequestTelemetry
from apps.orders.service import OrdersService
from apps.orders.settings import Settings

STATIC = Path(__file__).resolve().parent.parent / "dashboard" / "static"


def create_app(
    settings: Settings,
    service: OrdersService | None = None,
    *,
    on_started: Callable[[OrdersService], None] | None = None,
) -> FastAPI:
    """The app; it starts (and stops) the service with the server."""
    running = service or OrdersService(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await running.start()
        app.state.service = running
        if on_started is not None:
            on_started(running)
        try:
            yield
        finally:
            await running.stop()

    app = FastAPI(
        title="Orders",
        summary="The reference bounded context of eventbook: commands, queries, history, feed.",
        version="0.1.0",
        lifespan=lifespan,
        dependencies=[Depends(known_query_only)],
        docs_url=None,  # served from local assets instead: see docs.py
        redoc_url=None,
    )
    problems.install(app)
    for module in (
        commands,
        queries,
        history,
        operations,
        deletion,
        customers,
        monitoring,
        keys,
        health,
    ):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestTelemetry, registry=running.observability.registry)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    docs.install(app)

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            shared = schema.setdefault("components", {}).setdefault("schemas", {})
            shared.update(schemas.COMPONENTS)
            for _, command_type, _ in commands.ROUTES:
                shared.update(commands.body_schema(command_type)[1])
            shape = queries.position_pattern(running.settings.events_url)
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    for parameter in operation.get("parameters", []):
                        parameter["schema"] = _not_null(parameter["schema"])
                        if parameter["name"] == "min_position":
                            parameter["schema"]["pattern"] = shape
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional parameter's schema without the `null` FastAPI adds for `X | None`: a
    header or query parameter is left out, never null (a client would send "null")."""
    choices = schema.get("anyOf")
    if not choices or {"type": "null"} not in choices:
        return schema
    rest = [choice for choice in choices if choice != {"type": "null"}]
    others = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**rest[0], **others} if len(rest) == 1 else {**others, "anyOf": rest}
