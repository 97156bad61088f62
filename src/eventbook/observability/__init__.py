"""Metrics, traces and health for eventbook (the `observability` extra).

Nothing here runs or registers at import. Build an `Observability`, pass it the parts to
instrument, and serve `exposition()` (Prometheus) and `readiness()`; spans go through
opentelemetry-api and are recorded once an SDK is configured (`eventbook[otel]`, see
`configure_tracing_from_env`). docs/observability.md lists every metric and span.
"""

from eventbook.observability._health import Check, Probe, Readiness
from eventbook.observability._http import serve
from eventbook.observability._metrics import OUTCOMES, EventbookMetrics
from eventbook.observability._observability import Observability
from eventbook.observability._sdk import configure_tracing_from_env
from eventbook.observability._store import backend_name
from eventbook.observability._tracing import (
    TRACEPARENT,
    TRACESTATE,
    context_of,
    current_trace_context,
    tracing_configured,
)

__all__ = [
    "OUTCOMES",
    "TRACEPARENT",
    "TRACESTATE",
    "Check",
    "EventbookMetrics",
    "Observability",
    "Probe",
    "Readiness",
    "backend_name",
    "configure_tracing_from_env",
    "context_of",
    "current_trace_context",
    "serve",
    "tracing_configured",
]
