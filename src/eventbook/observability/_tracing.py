"""Spans through opentelemetry-api, and the W3C trace context kept in event metadata.

eventbook only uses the API: without an SDK (or before one is configured) every span
is the API's no-op span and nothing is stored in metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACER_NAME = "eventbook"
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
"""The metadata keys of the command's trace context in each event it produced."""

_propagator = TraceContextTextMapPropagator()


def tracer() -> Tracer:
    return trace.get_tracer(TRACER_NAME)


def current_trace_context() -> dict[str, str]:
    """The current span's W3C context (`traceparent`, maybe `tracestate`); {} if none."""
    if not trace.get_current_span().get_span_context().is_valid:
        return {}  # no SDK, or no span: keep metadata as it was
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier


def context_of(metadata: Mapping[str, Any]) -> otel_context.Context | None:
    """The trace context stored in an event's metadata, to continue its trace; or None."""
    parent = metadata.get(TRACEPARENT)
    if not isinstance(parent, str):
        return None
    carrier = {TRACEPARENT: parent}
    state = metadata.get(TRACESTATE)
    if isinstance(state, str):
        carrier[TRACESTATE] = state
    extracted = _propagator.extract(carrier)
    if not trace.get_current_span(extracted).get_span_context().is_valid:
        return None
    return extracted


def link_of(metadata: Mapping[str, Any]) -> Link | None:
    """A link to the span whose context an event's metadata carries."""
    extracted = context_of(metadata)
    if extracted is None:
        return None
    span_context: SpanContext = trace.get_current_span(extracted).get_span_context()
    return Link(span_context)


def tracing_configured() -> bool:
    """Whether an SDK (any real tracer provider) is in place: spans would be recorded."""
    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)
