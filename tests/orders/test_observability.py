"""Metrics, health and traces of the Orders service and its daemon, as real processes.

The embedded service is scraped before and after a command. Then an API process without
projections and a separate daemon process both export OTLP/HTTP to a receiver in this
test: the API is not ready while no daemon moves its projections, ready once one runs,
and one POST yields one trace with spans from both processes.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.orders.conftest import (
    READER_KEY,
    WRITER_KEY,
    RunningService,
    _start,
    _stop,
)
from tests.orders.test_api import ADDRESS
from tests.servers.postgres import free_port

ORDER = {
    "customer": "Ann",
    "items": [{"product": "Tea", "quantity": 1, "unit_price": "3.00"}],
    "shipping_address": ADDRESS,
    "currency": "EUR",
}


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    for line in text.splitlines():
        match = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
        if match is None or match.group(1) != name:
            continue
        found = dict(re.findall(r'([a-z_]+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(match.group(3))
    return 0.0


def eventually(check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if result := check():
                return result
        except (httpx.HTTPError, AssertionError, KeyError):
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not become true in time")
        time.sleep(0.2)


def test_embedded_metrics_move_when_a_command_runs(embedded_service: RunningService) -> None:
    with embedded_service.client(headers=embedded_service.operator) as client:
        # The shared service may have been rebuilt by other tests: the live build's version.
        listed = client.get("/api/projections").json()["items"]
        version = next(str(p["version"]) for p in listed if p["name"] == "orders" and p["active"])
        before = client.get("/metrics").text
        placed = client.post("/api/orders", json=ORDER, headers=embedded_service.writer)
        assert placed.status_code == 202, placed.text
        assert client.get("/health/live").json() == {"status": "live"}
        ready = client.get("/health/ready")
        assert ready.status_code == 200, ready.text
        assert "event_store" in [check["name"] for check in ready.json()["checks"]]

        def moved() -> str | None:
            text = client.get("/metrics").text
            build = {"projection": "orders", "version": version}
            handled = sample(text, "eventbook_projection_events_handled_total", **build)
            caught_up = sample(text, "eventbook_projection_lag_events", **build) == 0
            return text if caught_up and handled > sample(
                before, "eventbook_projection_events_handled_total", **build) else None  # fmt: skip

        after = eventually(moved)
    command = {"command_type": "PlaceOrder", "outcome": "ok"}
    counted = "eventbook_command_duration_seconds_count"
    assert sample(after, counted, **command) == sample(before, counted, **command) + 1
    appended = {"backend": "sqlite", "event_type": "OrderPlaced"}
    total = "eventbook_appended_events_total"
    assert sample(after, total, **appended) == sample(before, total, **appended) + 1
    request = {"method": "POST", "route": "/api/orders", "status": "202"}
    assert sample(after, "orders_http_request_duration_seconds_count", **request) >= 1
    assert sample(after, "eventbook_projection_lag_events", projection="orders",
                  version=version) == 0  # fmt: skip
    # No customer data, label or key ("{customer}" in a route template is not data).
    for private in ('customer="', '"Ann"', "Nyhavn", "Copenhagen", WRITER_KEY):
        assert private not in after


class _Receiver(BaseHTTPRequestHandler):
    spans: list[tuple[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_spans:
            service = next(
                a.value.string_value
                for a in resource.resource.attributes
                if a.key == "service.name"
            )
            for scope in resource.scope_spans:
                self.spans.extend((service, span) for span in scope.spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def otlp() -> Iterator[tuple[str, list[tuple[str, Any]]]]:
    """A small OTLP/HTTP receiver: the URL to export to, and (service, span) received."""
    received: list[tuple[str, Any]] = []
    handler = type("Receiver", (_Receiver,), {"spans": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()


def test_readiness_and_one_trace_across_the_api_and_a_daemon_process(
    tmp_path: Path, otlp: tuple[str, list[tuple[str, Any]]]
) -> None:
    endpoint, received = otlp
    port, daemon_port = free_port(), free_port()
    env = {
        "ORDERS_EVENTS_URL": f"sqlite:///{tmp_path}/orders.db",
        "ORDERS_READ_MODELS_URL": f"sqlite:///{tmp_path}/read-models.db",
        "ORDERS_SEED_ORDERS": "0",
        "ORDERS_RUN_PROJECTIONS": "0",
        "ORDERS_STUCK_AFTER": "1",
        "ORDERS_PORT": str(port),
        "ORDERS_WRITER_KEY": WRITER_KEY,
        "ORDERS_READER_KEY": READER_KEY,
        "ORDERS_LOG_FORMAT": "json",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    url = f"http://127.0.0.1:{port}"
    api = _start(["-m", "apps.orders"], {**env, "OTEL_SERVICE_NAME": "orders"},
                 tmp_path / "api.log")  # fmt: skip
    processes = [api]
    try:
        eventually(lambda: httpx.get(f"{url}/health/live").status_code == 200)
        trace_id = os.urandom(16).hex()
        traceparent = f"00-{trace_id}-{os.urandom(8).hex()}-01"
        placed = httpx.post(
            f"{url}/api/orders",
            json=ORDER,
            headers={
                "X-API-Key": WRITER_KEY,
                "traceparent": traceparent,
                "X-Correlation-Id": "corr-42",
            },
        )
        assert placed.status_code == 202, placed.text
        assert placed.headers["x-correlation-id"] == "corr-42"

        # No daemon: the projections are behind and do not move, so not ready once the
        # order's event has waited ORDERS_STUCK_AFTER.
        def stuck() -> list[str] | None:
            answer = httpx.get(f"{url}/health/ready")
            failed: list[str] = answer.json().get("failed", [])
            return failed if "projection:orders@v1" in failed else None

        failed = eventually(stuck, timeout=30)
        assert httpx.get(f"{url}/health/ready").status_code == 503, failed

        daemon_args = ["-m", "eventbook.projections", "run", "apps.orders.projections:build"]
        daemon_args += ["--store", env["ORDERS_EVENTS_URL"], "--metrics-port", str(daemon_port)]
        daemon_args += ["--health-port", str(daemon_port)]
        processes.append(
            _start(
                daemon_args,
                {**env, "OTEL_SERVICE_NAME": "orders-projections"},
                tmp_path / "daemon.log",
            )
        )
        eventually(lambda: httpx.get(f"{url}/health/ready").status_code == 200)
        daemon_url = f"http://127.0.0.1:{daemon_port}"
        assert httpx.get(f"{daemon_url}/health/ready").status_code == 200
        scraped = httpx.get(f"{daemon_url}/metrics").text
        build = {"projection": "orders", "version": "1"}
        assert sample(scraped, "eventbook_projection_events_handled_total", **build) >= 1
        assert sample(scraped, "eventbook_projection_lease_held", **build) == 1

        wanted = {
            ("orders", "POST /api/orders"),
            ("orders", "command PlaceOrder"),
            ("orders", "load Order"),
            ("orders", "eventbook.append"),
            ("orders-projections", "project orders OrderPlaced"),
            ("orders-projections", "project order_search OrderPlaced"),
        }

        def traced() -> bool:
            names = {(s, span.name) for s, span in received if span.trace_id.hex() == trace_id}
            return wanted <= names

        eventually(traced, timeout=30)
        ours = [span for _, span in received if span.trace_id.hex() == trace_id]
        by_id = {span.span_id: span for span in ours}
        server = next(span for span in ours if span.name == "POST /api/orders")
        assert server.parent_span_id.hex() == traceparent.split("-")[2]
        caller = bytes.fromhex(traceparent.split("-")[2])
        for span in ours:  # one tree under the caller's span, no orphans (FastAPI may add
            # spans of its own beside ours)
            assert span.parent_span_id in by_id or span.parent_span_id == caller, span.name
        batches = [span for _, span in received if span.name.startswith("projection batch")]
        assert any(link.trace_id.hex() == trace_id for b in batches for link in b.links)
    finally:
        _stop(*processes)
    lines = (tmp_path / "api.log").read_text().splitlines()
    access = [line for line in lines if '"orders.access"' in line and "/api/orders" in line]
    assert access, lines[-20:]
    assert '"correlation_id": "corr-42"' in access[0]
    assert '"status": 202' in access[0]
    for private in ("Ann", WRITER_KEY):
        assert private not in "\n".join(lines)


def test_feed_clients_are_counted_and_the_store_sizes_are_served(
    embedded_service: RunningService,
) -> None:
    with embedded_service.client() as client:
        kind = {"kind": "sse_feed"}
        before = sample(
            client.get("/metrics", headers=embedded_service.operator).text,
            "eventbook_subscriptions_connected",
            **kind,
        )
        with client.stream("GET", "/api/feed", headers=embedded_service.reader) as feed:
            assert feed.status_code == 200
            lines = feed.iter_lines()  # kept: a dropped iterator closes the stream
            assert next(lines) == "retry: 2000"
            text = client.get("/metrics", headers=embedded_service.operator).text
            counted = sample(text, "eventbook_subscriptions_connected", **kind)
            assert counted == before + 1
            # the in-process feed follows the store with one store.subscribe
            assert sample(text, "eventbook_subscriptions_connected", kind="store") >= 1

        def closed() -> bool:
            text = client.get("/metrics", headers=embedded_service.operator).text
            return sample(text, "eventbook_subscriptions_connected", **kind) == before

        eventually(closed)
        refused = client.get("/api/operations/store-sizes", headers={"X-API-Key": ""})
        assert refused.status_code == 401, refused.text
        sizes = client.get("/api/operations/store-sizes?top=3", headers=embedded_service.reader)
        assert sizes.status_code == 200, sizes.text
        body = sizes.json()
        assert body["supported"] is True
        assert body["events"] > 0
        assert body["streams"] > 0
        largest = body["largest_streams"]
        assert 1 <= len(largest) <= 3
        assert [s["bytes"] for s in largest] == sorted((s["bytes"] for s in largest), reverse=True)
