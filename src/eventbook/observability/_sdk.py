"""Switching tracing on from the standard `OTEL_*` environment variables.

For processes eventbook starts itself (the projection daemon, the Orders service). It
needs the OpenTelemetry SDK and the OTLP/HTTP exporter (`eventbook[otel]`); the SDK reads
`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_ENDPOINT`,
`OTEL_TRACES_SAMPLER`, ... itself. An application that configures its own SDK (or runs
under `opentelemetry-instrument`) does not call this.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from opentelemetry import trace

log = logging.getLogger("eventbook.observability")

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def configure_tracing_from_env(env: Mapping[str, str] | None = None) -> bool:
    """Install an SDK tracer provider exporting OTLP/HTTP when the environment asks.

    It asks with an OTLP endpoint or `OTEL_TRACES_EXPORTER` (`otlp` or `console`); it
    declines with `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. Returns whether
    tracing is now on. A provider installed already is left alone.
    """
    env = os.environ if env is None else env
    exporter_name = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    wanted = exporter_name in {"otlp", "console"} or any(env.get(k) for k in _ENDPOINTS)
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true" or exporter_name == "none":
        return False
    if not wanted:
        return False
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return True  # configured by the application (or opentelemetry-instrument)
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SpanExporter,
        )
    except ImportError:
        log.warning("OTEL_* asks for traces but the SDK is missing: pip install eventbook[otel]")
        return False
    exporter: SpanExporter
    if exporter_name == "console":
        exporter = ConsoleSpanExporter()
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning("the OTLP/HTTP exporter is not installed: pip install eventbook[otel]")
            return False
        exporter = OTLPSpanExporter()
    provider = TracerProvider(resource=Resource.create())
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return True
