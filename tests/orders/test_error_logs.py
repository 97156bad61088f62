"""An unexpected error's log line carries the request's correlation id and trace id, as
every line written during the request does: from a log line to the trace and events."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from apps.orders.api.app import create_app
from apps.orders.api.telemetry import CorrelationFilter, JsonFormatter
from apps.orders.settings import Settings
from fastapi.testclient import TestClient

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, object]] = []
        self.addFilter(CorrelationFilter())
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def lines() -> Iterator[list[dict[str, object]]]:
    handler = _Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(level)


def test_an_unexpected_error_is_logged_with_the_correlation_and_trace_ids(
    tmp_path: Path, lines: list[dict[str, object]]
) -> None:
    settings = Settings(
        events_url=f"sqlite:///{tmp_path / 'events.db'}",
        read_models_url=f"sqlite:///{tmp_path / 'read.db'}",
        seed_orders=0,
        run_projections=False,
    )
    app = create_app(settings)

    @app.get("/api/broken")
    async def broken() -> None:
        logging.getLogger("orders.test").info("about to fail")
        raise RuntimeError("a bug")

    headers = {"X-Correlation-Id": "corr-err", "traceparent": TRACEPARENT}
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/api/broken", headers=headers)
    assert answer.status_code == 500
    assert "a bug" not in answer.text
    by_logger = {line["logger"]: line for line in lines}
    for name in ("orders.test", "orders.api", "orders.access"):
        line = by_logger[name]
        assert line["correlation_id"] == "corr-err", line
        assert line["trace_id"] == TRACE_ID, line
    error = by_logger["orders.api"]
    assert error["level"] == "ERROR"
    assert error["message"] == "unexpected error in GET /api/broken"
    assert "RuntimeError: a bug" in str(error["error"])
