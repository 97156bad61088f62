"""Spans through opentelemetry-api, and the W3C trace context kept in event metadata.

eventbook only uses the API: without an SDK (or before one is configured) every span
is the API's no-op span and nothing is stored in metadata.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Link, Span, SpanContext, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACER_NAME = "eventbook"
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
"""The metadata keys of the command's trace context in each event it produced."""

_propagator = TraceContextTextMapPropagator()


def tracer() -> Tracer:
    return trace.get_tracer(TRACER_NAME)


NO_SPAN: AbstractContextManager[Span] = nullcontext(INVALID_SPAN)
"""Stands for a span where none is made (no SDK): `with NO_SPAN as span` costs less than
the API's no-op span (about 19 µs) and takes every span method, doing nothing."""


def _current_context_getter() -> Callable[[], otel_context.Context]:
    """`otel_context.get_current`, or the same answer for less: the `get` of the
    ContextVar behind the API's default runtime context (one C call instead of three
    Python frames), when this API version keeps one there."""
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    variable = getattr(runtime, "_current_context", None)
    if isinstance(variable, ContextVar) and isinstance(variable.get(), otel_context.Context):
        return variable.get
    return otel_context.get_current


caller_context = _current_context_getter()
"""The current OpenTelemetry context: empty (falsy) unless a span or baggage was made
current (by an SDK, or by a caller continuing an incoming `traceparent`)."""


def current_trace_context() -> dict[str, str]:
    """The current span's W3C context (`traceparent`, maybe `tracestate`); {} if none."""
    current = caller_context()
    if not current or not trace.get_current_span(current).get_span_context().is_valid:
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


_settled: list[bool] = []
"""The answer once a tracer provider is set: opentelemetry-api lets it be set only once."""
_unset: list[bool] = []
"""Whether this API keeps its provider in the module global `_TRACER_PROVIDER` (None until
one is set) and no `OTEL_PYTHON_TRACER_PROVIDER` names one: then that global alone tells
"none yet". Found on the first call."""


class _NoProviderGlobal:
    _TRACER_PROVIDER = True  # not None: ask `tracing_configured()`


providers: Any = trace if hasattr(trace, "_TRACER_PROVIDER") else _NoProviderGlobal
"""Hot paths test `providers._TRACER_PROVIDER is not None and tracing_configured()`: the
API's module global is None until a provider is set (an `OTEL_PYTHON_TRACER_PROVIDER` one
is set by the first `tracer()`, which every observer calls when it is made), so without
an SDK that is one attribute read and no call. An API without that global always asks."""


def tracing_configured() -> bool:
    """Whether an SDK (any real tracer provider) is in place: spans would be recorded.

    Asked on every command, load and append: without an SDK eventbook makes no span at
    all, since even the API's no-op span costs some 19 µs, several percent of a command.
    Until a provider is set the answer is one read of the API's module global (the public
    `get_tracer_provider()` looks in os.environ on every call); once one is set, a list.
    """
    if _settled:
        return _settled[0]
    if not _unset:
        _unset.append(
            hasattr(trace, "_TRACER_PROVIDER") and not os.environ.get("OTEL_PYTHON_TRACER_PROVIDER")
        )
    if _unset[0] and trace._TRACER_PROVIDER is None:
        return False
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider):
        return False  # none yet; one may still be set
    _settled.append(not isinstance(provider, trace.NoOpTracerProvider))
    return _settled[0]
