"""For operators: the event store explorer, projection status and actions, the live feed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

import msgspec
from fastapi import APIRouter, Header, Path, Query, Request, Security
from fastapi.responses import StreamingResponse

from apps.orders.api import problems, schemas
from apps.orders.api.problems import Problem, public_error
from apps.orders.api.security import (
    FEED_TOKEN_SECONDS,
    OPERATOR,
    READER,
    Caller,
    api_key_header,
    authorize,
    authorize_token,
    feed_token,
    service_of,
)
from apps.orders.api_keys import Role
from apps.orders.rebuilds import RebuildRefused
from eventbook import Position, ValidationError
from eventbook.projections import (
    ParkedEvent,
    ParkedEventNotFound,
    Projection,
    ProjectionStatus,
    discard_parked,
    list_parked,
    projection_status,
    retry_parked,
)

router = APIRouter(prefix="/api", tags=["operations"], responses=problems.responses(401))
log = logging.getLogger("orders.api")
HEARTBEAT = 15.0
KEY_CHECK = 1.0
"""How often an open feed checks that its key was not revoked meanwhile (seconds)."""
ProjectionName = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_.-]{1,100}$", description="a projection's name")
]


REBUILDING = schemas.obj(
    {
        "projection": schemas.STRING,
        "state": {"type": "string", "enum": ["rebuilding"]},
        "from_version": schemas.INTEGER,
        "to_version": schemas.INTEGER,
    }
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
    },
)
async def whoami(
    request: Request, api_key: str | None = Security(api_key_header)
) -> dict[str, str]:
    role = authorize(request, api_key or None, Role.READER).role
    if role is None:  # anonymous reads are on, but whoami names a key's role
        raise Problem(401, "api-key-required", "API key required", "send it in X-API-Key")
    return {"role": role.value}


@router.get(
    "/store/summary",
    dependencies=[READER],
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
    dependencies=[READER],
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
    dependencies=[READER],
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
    dependencies=[OPERATOR],
    summary="Position, lag, state and parked events of each projection",
    response_model=None,
    responses=schemas.answer("Projections"),
)
async def projections(request: Request) -> dict[str, Any]:
    """The builds readers see, each followed by the build a rebuild makes beside it (state
    `rebuilding`, with its progress); `rebuild` on a live build is its latest rebuild.
    A partitioned build lists its partitions in `partitions`."""
    service = service_of(request)
    rebuilds = service.rebuilds
    items = []
    for projection in service.projections:
        found = await projection_status(service.store, projection)
        if found is None:
            continue
        progress = await rebuilds.progress(projection.name)
        items.append({**_status_item(found), "rebuild": progress})
        building = rebuilds.building.get(projection.name)
        new = None if building is None else await projection_status(service.store, building)
        if new is not None:
            items.append({**_status_item(new), "state": "rebuilding", "rebuild": progress})
    return {"items": items}


def _status_item(found: ProjectionStatus) -> dict[str, Any]:
    item: dict[str, Any] = msgspec.to_builtins(found.as_dict())
    partitions = [{**p, "last_error": public_error(p["last_error"])} for p in item["partitions"]]
    return {**item, "last_error": public_error(item["last_error"]), "partitions": partitions}


@router.post(
    "/projections/{name}/rebuild",
    status_code=202,
    summary="Build the next version beside the live one, then switch readers to it",
    description=(
        "Blue/green: version N+1 is built from the start of history while readers keep"
        " reading version N; once N+1 has caught up, readers are switched to it in one"
        " transaction and N is dropped. Follow it in `GET /api/projections` (state"
        " `rebuilding`, `rebuild` with events done, rate and ETA). The Redis live feed"
        " cannot be built beside itself (its builds share one stream): 409."
    ),
    response_model=None,
    responses={
        202: {
            "description": "The rebuild started",
            "content": {"application/json": {"schema": REBUILDING}},
        },
        **problems.responses(403, 404, 409, 422),
    },
    dependencies=[OPERATOR],
)
async def rebuild_projection(request: Request, name: ProjectionName) -> dict[str, Any]:
    _projection(request, name)
    try:
        started = service_of(request).rebuild(name)
    except RebuildRefused as refused:
        raise Problem(409, refused.code, "Cannot rebuild", str(refused)) from None
    return {
        "projection": name,
        "state": "rebuilding",
        "from_version": started.from_version,
        "to_version": started.to_version,
    }


async def _act_on_parked(
    request: Request,
    name: str,
    event_id: UUID,
    state: str,
    act: Callable[[Projection[Any]], Awaitable[None]],
) -> dict[str, str]:
    """An operator's action on one parked event; an unknown event is a 404."""
    try:
        await act(_projection(request, name))
    except ParkedEventNotFound as missing:
        raise Problem(404, "parked-event-not-found", "Not found", str(missing)) from None
    return {"event_id": str(event_id), "state": state}


@router.get(
    "/projections/{name}/parked",
    summary="Events a projection could not handle",
    response_model=None,
    responses={**schemas.answer("ParkedEvents"), **problems.responses(403, 404, 422)},
    dependencies=[OPERATOR],
)
async def parked(request: Request, name: ProjectionName) -> dict[str, Any]:
    found = await list_parked(_projection(request, name))
    return {"items": [parked_item(p) for p in found]}


def parked_item(parked: ParkedEvent) -> dict[str, Any]:
    """A parked event as the API serves it: its position a string, as everywhere in the API
    (msgspec alone would give `{"major": …, "minor": …}`), its error without a traceback."""
    item: dict[str, Any] = msgspec.to_builtins(parked)
    return {**item, "position": str(parked.position), "error": public_error(parked.error)}


@router.post(
    "/projections/{name}/parked/{event_id}/retry",
    summary="Handle a parked event again",
    response_model=None,
    responses={**_parked_action("retried"), **problems.responses(403, 404, 422)},
    dependencies=[OPERATOR],
)
async def retry(request: Request, name: ProjectionName, event_id: UUID) -> dict[str, str]:
    store = service_of(request).store
    return await _act_on_parked(
        request, name, event_id, "retried", lambda p: retry_parked(store, p, event_id)
    )


@router.delete(
    "/projections/{name}/parked/{event_id}",
    summary="Discard a parked event",
    response_model=None,
    responses={**_parked_action("discarded"), **problems.responses(403, 404, 422)},
    dependencies=[OPERATOR],
)
async def discard(request: Request, name: ProjectionName, event_id: UUID) -> dict[str, str]:
    return await _act_on_parked(
        request, name, event_id, "discarded", lambda p: discard_parked(p, event_id)
    )


FEED_TOKEN = schemas.obj({"token": schemas.STRING, "expires_in": {"type": "integer"}})


@router.post(
    "/feed/token",
    summary="A short-lived token for the live feed (EventSource sends no headers)",
    response_model=None,
    responses={
        200: {
            "description": "Open `/api/feed?token=…` within `expires_in` seconds",
            "content": {"application/json": {"schema": FEED_TOKEN}},
        },
    },
)
async def new_feed_token(
    request: Request, api_key: str | None = Security(api_key_header)
) -> dict[str, Any]:
    caller = authorize(request, api_key or None, Role.READER)
    if caller.key_hash is None:
        raise Problem(401, "api-key-required", "API key required", "send it in X-API-Key")
    return {"token": feed_token(caller), "expires_in": FEED_TOKEN_SECONDS}


FeedToken = Annotated[
    str | None,
    Query(
        max_length=200,
        pattern=r"^[0-9a-f]{32}\.[0-9]{1,12}\.[0-9a-f]{32}$",
        description="a token from `POST /api/feed/token`, instead of X-API-Key",
    ),
]


LAST_EVENT_ID = (
    "resume after this position (what an earlier message's `id:` said): every event after"
    " it, none before"
)


def _resume_after(header: str | None, query: str | None) -> Position | None:
    """Where a reconnecting client left off: the header `EventSource` sends by itself wins
    over the query parameter a client sets when it reopens the feed with a new token."""
    chosen = header if header is not None else query
    if chosen is None or chosen == "":  # EventSource sends an empty one before any id
        return None
    try:
        return Position.parse(chosen)
    except ValidationError as bad:
        field = "Last-Event-ID" if header is not None else "last_event_id"
        raise Problem(
            422,
            "invalid-request",
            "Invalid request",
            f"check: {field}",
            errors=[{"field": field, "message": str(bad)}],
        ) from None


@router.get(
    "/feed",
    summary="Server-Sent Events: each order event as it happens, `id:` its position",
    description=(
        "Each message is `event: event`, `id:` the event's position and `data:` the item."
        " A new client gets the 50 most recent items first; a reconnecting one sends"
        " `Last-Event-ID` (browsers do it by themselves) or `?last_event_id=` and gets every"
        " event after that position, then live ones: nothing missed, nothing repeated."
    ),
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **problems.responses(422)},
)
async def feed(
    request: Request,
    token: FeedToken = None,
    last_event_id: Annotated[str | None, Query(max_length=40, description=LAST_EVENT_ID)] = None,
    last_event_id_header: Annotated[
        str | None, Header(alias="Last-Event-ID", max_length=40, description=LAST_EVENT_ID)
    ] = None,
    api_key: str | None = Security(api_key_header),
) -> StreamingResponse:
    caller: Caller = (
        authorize_token(request, token)
        if token is not None and not api_key
        else authorize(request, api_key, Role.READER)
    )
    after = _resume_after(last_event_id_header, last_event_id)
    service = service_of(request)
    items = service.feed.follow(after)

    async def events() -> AsyncIterator[str]:
        pending: asyncio.Task[Any] | None = None
        # Counted in eventbook_subscriptions_connected{kind="sse_feed"} while it stays.
        with service.observability.subscribed("sse_feed"):
            yield "retry: 2000\n\n"
            quiet = 0.0
            try:
                while caller.still_allowed(service):
                    pending = pending or asyncio.ensure_future(anext(items))
                    done, _ = await asyncio.wait({pending}, timeout=KEY_CHECK)
                    if not done:
                        quiet += KEY_CHECK
                        if quiet >= HEARTBEAT:
                            quiet = 0.0
                            yield ": keep-alive\n\n"
                        continue
                    item, pending, quiet = pending.result(), None, 0.0
                    data = msgspec.json.encode(item).decode()
                    yield f"event: event\nid: {item['position']}\ndata: {data}\n\n"
            finally:
                if pending is not None:
                    pending.cancel()
                with contextlib.suppress(Exception):
                    await items.aclose()  # type: ignore[attr-defined]

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
