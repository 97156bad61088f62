"""Errors as RFC 9457 `application/problem+json`, one problem type per kind of failure.

Every failure the API reports goes through here, so a client sees one shape, and never a
stack trace: unexpected errors are logged and answered with a generic 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from apps.orders.api.schemas import ref
from eventbook import (
    CommandValidationError,
    ConcurrencyError,
    DomainError,
    StreamDeleted,
    ValidationError,
)

log = logging.getLogger("orders.api")

MEDIA_TYPE = "application/problem+json"

WHEN = {
    400: "The body is not JSON",
    401: "No API key was sent, or one never issued or revoked",
    403: "The API key's role does not allow this",
    404: "Not found",
    409: "A business rule was broken",
    410: "The order was deleted by an operator",
    412: "The order is not at the If-Match version",
    413: "The body is larger than the service accepts",
    415: "The body is not sent as application/json (UTF-8)",
    422: "The request is invalid",
    503: "The read model did not reach `min_position` in time, or other writers kept"
    " changing the order (`write-contention`): retry later",
}


def responses(*statuses: int) -> dict[int | str, Any]:
    """The OpenAPI `responses` entries of the problems an endpoint may answer."""
    return {
        status: {
            "description": WHEN[status],
            "content": {MEDIA_TYPE: {"schema": ref("Problem")}},
        }
        for status in statuses
    }


def field_error(field: str, message: str) -> dict[str, str]:
    """One entry of a 422's `errors[]`, the same for queries, headers and command bodies."""
    return {"field": "body" if field in ("", "$") else field, "message": message}


def invalid(slug: str, title: str, errors: list[dict[str, str]]) -> Problem:
    """A 422 naming every bad field at once."""
    fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return Problem(422, slug, title, f"check: {fields}", errors=errors)


class Problem(Exception):
    """An error the API reports as it is."""

    def __init__(self, status: int, slug: str, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail, self.extra = (
            status,
            slug,
            title,
            detail,
            extra,
        )


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail}
    body.update(jsonable_encoder(extra))
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


_PATH = re.compile(r"""(?<![\w.:/\\])(?:[A-Za-z]:)?[/\\](?:[^\s'"/\\]+[/\\])+([^\s'"/\\]*)""")


def public_error(described: str | None) -> str | None:
    """A stored error (a projection's last error, a parked event's) as API callers see it:
    `Type: message`, its first line, with file paths cut to the file's name. The whole
    traceback stays where operators with access look: the log and the store."""
    if described is None:
        return None
    first = described.partition("\n")[0]
    return _PATH.sub(lambda path: f"…/{path.group(1)}", first)


def _slug(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name.removesuffix("Error")).lower()


async def _on_problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem(exc.status, exc.slug, exc.title, exc.detail, **exc.extra)


async def _on_domain_error(_: Request, exc: Exception) -> JSONResponse:
    name = type(exc).__name__
    return problem(409, _slug(name), "Business rule broken", str(exc), rule=name)


async def _on_deleted(_: Request, exc: Exception) -> JSONResponse:
    # A command on an order whose stream an operator deleted: gone, for good or until a
    # new history is started (which the Orders service never does).
    assert isinstance(exc, StreamDeleted)
    kind = "tombstoned" if exc.hard else "deleted"
    return problem(410, "order-deleted", "The order was deleted", str(exc), deleted=kind)


CONTENTION_RETRY_AFTER = 1
"""Seconds a client waits before sending a command refused for contention again."""


async def _on_conflict(_: Request, exc: Exception) -> JSONResponse:
    # The bus retried and other processes kept winning the order: not a refusal of the
    # command (that is a 409 business rule), but a conflict worth retrying later.
    assert isinstance(exc, ConcurrencyError)
    return problem(
        503,
        "write-contention",
        "The order is busy: retry later",
        f"{exc}; other writers kept changing the order, so the command was not applied",
        {"Retry-After": str(CONTENTION_RETRY_AFTER)},
        actual_version=exc.actual,
    )


def command_errors(exc: CommandValidationError) -> list[dict[str, str]]:
    return [field_error(field, message) for field, message in exc.problems.items()]


async def _on_invalid(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, CommandValidationError):
        return await _on_problem(
            request, invalid("invalid-command", "Invalid command", command_errors(exc))
        )
    return problem(422, "invalid-command", "Invalid command", str(exc))


async def _on_request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        field_error(".".join(str(p) for p in error["loc"][1:]), error["msg"])
        for error in exc.errors()
    ]
    return await _on_problem(request, invalid("invalid-request", "Invalid request", errors))


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed(request: Request) -> str:
    """Every method some route takes at this path (a 405 of one route names only its own)."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    )


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed(request)
    slug = title.lower().replace(" ", "-")  # not-found, method-not-allowed, like the others
    return problem(exc.status_code, slug, title, str(exc.detail), headers)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Run outside the telemetry middleware: the request's ids come from its state.
    ids = {key: getattr(request.state, key, None) for key in ("correlation_id", "trace_id")}
    log.error("unexpected error in %s %s", request.method, _route(request), exc_info=exc, extra=ids)
    return problem(500, "internal-error", "Internal error", "the error was logged")


def _route(request: Request) -> str:
    """The route template, never the path (ids in it)."""
    return getattr(request.scope.get("route"), "path", None) or "unmatched"


def install(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(ConcurrencyError, _on_conflict)
    app.add_exception_handler(StreamDeleted, _on_deleted)
    app.add_exception_handler(ValidationError, _on_invalid)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
