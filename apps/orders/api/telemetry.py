"""Per request: a server span (continuing an incoming `traceparent`), a correlation id, a
latency sample and one log line. Never bodies, API keys or query strings.

The correlation id comes from `X-Correlation-Id` (when it looks like an id) or is new;
it is returned in the same header, given to commands (and so to their events), and added
to every log line written while the request runs, errors included, with the trace id.
"""

from __future__ import annotations

import json
import logging
import re
import time
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import CollectorRegistry, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventbook import uuid7

HEADER = "x-correlation-id"
_ACCEPTED = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
_propagator = TraceContextTextMapPropagator()
correlation_id: ContextVar[str | None] = ContextVar("orders_correlation_id", default=None)
access_log = logging.getLogger("orders.access")


class RequestTelemetry:
    """ASGI middleware; `registry` gets `orders_http_request_duration_seconds`."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.duration = Histogram(
            "orders_http_request_duration_seconds",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.tracer = trace.get_tracer("apps.orders")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get(HEADER, "")
        chosen = given if _ACCEPTED.fullmatch(given) else str(uuid7())
        scope.setdefault("state", {})["correlation_id"] = chosen
        token = correlation_id.set(chosen)
        method = scope["method"]
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((HEADER.encode(), chosen.encode()))
            await send(message)

        with self.tracer.start_as_current_span(
            method,
            context=_propagator.extract(headers),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "orders.correlation_id": chosen},
        ) as span:
            # For a handler of unexpected errors, which Starlette runs outside this
            # middleware, after these context variables are reset.
            scope["state"]["trace_id"] = trace_id_of(span.get_span_context())
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                route = _route(scope)
                elapsed = time.perf_counter() - started
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                self.duration.labels(method, route, str(status)).observe(elapsed)
                access_log.info(
                    "%s %s %d %.1fms",
                    method,
                    route,
                    status,
                    elapsed * 1000,
                    extra={
                        "http": {
                            "method": method,
                            "route": route,
                            "status": status,
                            "duration_ms": round(elapsed * 1000, 3),
                        }
                    },
                )
                correlation_id.reset(token)


def _route(scope: Scope) -> str:
    """The route template (`/api/orders/{order_id}`), never the raw path (ids, names)."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return "unmatched"


def trace_id_of(context: SpanContext) -> str | None:
    """The W3C trace id (32 hex digits) of a valid span context, else None."""
    return format(context.trace_id, "032x") if context.is_valid else None


class CorrelationFilter(logging.Filter):
    """Adds `correlation_id` and `trace_id` (or None) to every record, unless the line
    brought its own (`extra=`), so that an error line leads to the trace and the events."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "correlation_id", None) is None:
            record.correlation_id = correlation_id.get()
        if getattr(record, "trace_id", None) is None:
            record.trace_id = trace_id_of(trace.get_current_span().get_span_context())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, correlation id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", None),
            "trace_id": getattr(record, "trace_id", None),
        }
        if (http := getattr(record, "http", None)) is not None:
            line["http"] = http
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Root logging as text (`time logger message [correlation id trace=id]`) or JSON."""
    handler = logging.StreamHandler()
    handler.addFilter(CorrelationFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(name)s %(message)s [%(correlation_id)s trace=%(trace_id)s]"
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
