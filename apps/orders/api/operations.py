"""For operators: the event store explorer, projection status and actions, the live feed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

import msgspec
from fastapi import APIRouter, Path, Query, Request, Security
from fastapi.responses import StreamingResponse

from apps.orders.api import problems, schemas
from apps.orders.api.problems import Problem
from apps.orders.api.security import api_key_header, require_writer, role_of, service_of
from apps.orders.api_keys import Role
from eventbook.projections import (
    ParkedEventNotFound,
    Projection,
    discard_parked,
    list_parked,
    rebuild,
    retry_parked,
    status,
)

router = APIRouter(prefix="/api", tags=["operations"])
log = logging.getLogger("orders.api")
HEARTBEAT = 15.0
ProjectionName = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_.-]{1,100}$", description="a projection's name")
]


REBUILDING = schemas.obj(
    {"projection": schemas.STRING, "state": {"type": "string", "enum": ["rebuilding"]}}
)


def _parked_action(state: str) -> dict[int | str, Any]:
    done = schemas.obj(
        {
            "event_id": {"type": "string", "format": "uuid"},
            "state": {"type": "string", "enum": [state]},
        }
    )
    return {
        200: {
            "description": f"The event was {state}",
            "content": {"application/json": {"schema": done}},
        }
    }


def _projection(request: Request, name: str) -> Projection[Any]:
    projection = service_of(request).projection(name)
    if projection is None:
        raise Problem(404, "projection-not-found", "Not found", f"no projection {name!r}")
    return projection


@router.get(
    "/whoami",
    summary="The role of the API key sent",
    response_model=None,
    responses={
        200: {
            "description": "OK",
            "content": {
                "application/json": {
                    "schema": schemas.obj(
                        {"role": {"type": "string", "enum": [r.value for r in Role]}}
                    )
                }
            },
        },
        **problems.responses(401),
    },
)
async def whoami(
    request: Request, api_key: str | None = Security(api_key_header)
) -> dict[str, str]:
    return {"role": role_of(request, api_key).value}


@router.get(
    "/store/summary",
    summary="Event, stream and type counts",
    response_model=None,
    responses=schemas.answer("StoreSummary"),
)
async def store_summary(request: Request) -> dict[str, Any]:
    service = service_of(request)
    summary = await service.queries.store_summary()
    head = await service.store.head()
    return {**summary, "head": None if head is None else str(head)}


@router.get(
    "/store/streams",
    summary="Streams, largest first",
    response_model=None,
    responses={**schemas.answer("StreamPage"), **problems.responses(422)},
)
async def store_streams(
    request: Request,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 25,
) -> dict[str, Any]:
    return await service_of(request).queries.streams(page, page_size)


@router.get(
    "/store/events",
    summary="The newest events, newest first",
    response_model=None,
    responses={**schemas.answer("RecentEvents"), **problems.responses(422)},
)
async def store_events(
    request: Request, limit: Annotated[int, Query(ge=1, le=200)] = 25
) -> dict[str, Any]:
    return {"items": await service_of(request).queries.recent_events(limit)}


@router.get(
    "/projections",
    summary="Position, lag, state and parked events of each projection",
    response_model=None,
    responses=schemas.answer("Projections"),
)
async def projections(request: Request) -> dict[str, Any]:
    service = service_of(request)
    found = await status(service.store, service.projections)
    return {"items": [msgspec.to_builtins(s.as_dict()) for s in found]}


@router.post(
    "/projections/{name}/rebuild",
    status_code=202,
    summary="Replay from the start",
    response_model=None,
    responses={
        202: {
            "description": "The rebuild started",
            "content": {"application/json": {"schema": REBUILDING}},
        },
        **problems.responses(401, 403, 404, 422),
    },
)
async def rebuild_projection(
    request: Request, name: ProjectionName, api_key: str | None = Security(api_key_header)
) -> dict[str, str]:
    require_writer(request, api_key)
    projection = _projection(request, name)
    service = service_of(request)
    task = asyncio.create_task(rebuild(service.store, projection))
    service.background.add(task)
    task.add_done_callback(service.background.discard)
    return {"projection": name, "state": "rebuilding"}


async def _act_on_parked(
    request: Request,
    name: str,
    event_id: UUID,
    api_key: str | None,
    state: str,
    act: Callable[[Projection[Any]], Awaitable[None]],
) -> dict[str, str]:
    """A writer's action on one parked event; an unknown event is a 404."""
    require_writer(request, api_key)
    try:
        await act(_projection(request, name))
    except ParkedEventNotFound as missing:
        raise Problem(404, "parked-event-not-found", "Not found", str(missing)) from None
    return {"event_id": str(event_id), "state": state}


@router.get(
    "/projections/{name}/parked",
    summary="Events a projection could not handle",
    response_model=None,
    responses={**schemas.answer("ParkedEvents"), **problems.responses(404, 422)},
)
async def parked(request: Request, name: ProjectionName) -> dict[str, Any]:
    found = await list_parked(_projection(request, name))
    return {"items": [msgspec.to_builtins(p) for p in found]}


@router.post(
    "/projections/{name}/parked/{event_id}/retry",
    summary="Handle a parked event again",
    response_model=None,
    responses={**_parked_action("retried"), **problems.responses(401, 403, 404, 422)},
)
async def retry(
    request: Request,
    name: ProjectionName,
    event_id: UUID,
    api_key: str | None = Security(api_key_header),
) -> dict[str, str]:
    store = service_of(request).store
    return await _act_on_parked(
        request, name, event_id, api_key, "retried", lambda p: retry_parked(store, p, event_id)
    )


@router.delete(
    "/projections/{name}/parked/{event_id}",
    summary="Discard a parked event",
    response_model=None,
    responses={**_parked_action("discarded"), **problems.responses(401, 403, 404, 422)},
)
async def discard(
    request: Request,
    name: ProjectionName,
    event_id: UUID,
    api_key: str | None = Security(api_key_header),
) -> dict[str, str]:
    return await _act_on_parked(
        request, name, event_id, api_key, "discarded", lambda p: discard_parked(p, event_id)
    )


@router.get(
    "/feed",
    summary="Server-Sent Events: each order event as it happens",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def feed(request: Request) -> StreamingResponse:
    service = service_of(request)
    items = service.feed.follow()

    async def events() -> AsyncIterator[str]:
        pending: asyncio.Task[Any] | None = None
        # Counted in eventbook_subscriptions_connected{kind="sse_feed"} while it stays.
        with service.observability.subscribed("sse_feed"):
            yield "retry: 2000\n\n"
            try:
                while True:
                    pending = pending or asyncio.ensure_future(anext(items))
                    done, _ = await asyncio.wait({pending}, timeout=HEARTBEAT)
                    if not done:
                        yield ": keep-alive\n\n"
                        continue
                    item, pending = pending.result(), None
                    yield f"event: event\ndata: {msgspec.json.encode(item).decode()}\n\n"
            finally:
                if pending is not None:
                    pending.cancel()
                with contextlib.suppress(Exception):
                    await items.aclose()  # type: ignore[attr-defined]

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
