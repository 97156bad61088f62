"""eventbook's own counters and histograms read like prometheus_client's, samples taken
together reach each of their series, and a batch's event delays are sampled without
losing a count."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from eventbook import NewEvent, connect
from eventbook.observability import Observability
from eventbook.observability._instruments import FOLD_AT, Counter, Histogram, Samples
from eventbook.observability._projections import DELAY_SAMPLES, delays

ROOT = Path(__file__).resolve().parents[2]


def test_a_histogram_exposes_cumulative_buckets_a_count_and_a_sum() -> None:
    registry = CollectorRegistry()
    latency = Histogram("demo_seconds", "Demo.", ["kind"], registry=registry, buckets=(0.1, 1))
    series = latency.labels("a")
    for value in (0.05, 0.1, 0.5, 2.0, -0.01):  # a bound is inclusive; below 0 counts as 0
        series.observe(value)
    series.observe_counted([(0.5, 3)])

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"kind": "a", **labels})

    assert sample("demo_seconds_bucket", le="0.1") == 3
    assert sample("demo_seconds_bucket", le="1.0") == 7
    assert sample("demo_seconds_bucket", le="+Inf") == 8
    assert sample("demo_seconds_count") == 8
    assert sample("demo_seconds_sum") == pytest.approx(0.05 + 0.1 + 0.5 + 2.0 + 1.5)
    assert b"# TYPE demo_seconds histogram" in generate_latest(registry)


def test_raw_samples_are_sorted_into_buckets_when_many_wait_and_when_scraped() -> None:
    registry = CollectorRegistry()
    latency = Histogram("demo_seconds", "Demo.", [], registry=registry, buckets=(0.1, 1))
    series = latency.labels()
    for n in range(FOLD_AT + 3):
        series.observe(0.05 if n % 2 else 0.5)
    assert sum(series.counts) == FOLD_AT  # memory stays bounded without a scrape
    assert registry.get_sample_value("demo_seconds_count") == FOLD_AT + 3
    assert registry.get_sample_value("demo_seconds_bucket", {"le": "0.1"}) == (FOLD_AT + 3) // 2
    series.observe(2.0)  # after a scrape, samples go on being counted
    assert registry.get_sample_value("demo_seconds_count") == FOLD_AT + 4


def test_a_counter_only_goes_up_and_labels_must_match() -> None:
    registry = CollectorRegistry()
    events = Counter("demo_events_total", "Demo.", ["type"], registry=registry)
    events.labels("A").inc()
    events.labels("A").inc(2)
    assert registry.get_sample_value("demo_events_total", {"type": "A"}) == 3
    with pytest.raises(ValueError, match="only goes up"):
        events.labels("A").inc(-1)
    with pytest.raises(ValueError, match="takes labels"):
        events.labels("A", "B")
    assert b"# TYPE demo_events_total counter" in generate_latest(registry)


async def test_a_large_batch_is_sampled_and_every_event_counted() -> None:
    store = await connect("memory://")
    for n in range(10):
        await store.append(f"s-{n}", [NewEvent("E", {}) for _ in range(100)])
    events = await store.read_all_page(limit=1000)
    now = datetime.now(UTC) + timedelta(seconds=5)
    sampled = delays(events, now.timestamp())
    assert len(sampled) == DELAY_SAMPLES
    assert sum(count for _, count in sampled) == 1000
    assert all(4 < delay < 60 for delay, _ in sampled)
    small = delays(events[:3], now.timestamp())
    assert [count for _, count in small] == [1, 1, 1]
    await store.close()


def test_samples_taken_together_reach_each_series_when_scraped_and_when_many_wait() -> None:
    registry = CollectorRegistry()
    seconds = Histogram("demo_seconds", "Demo.", ["kind"], registry=registry, buckets=(0.1, 1))
    sizes = Histogram("demo_size", "Demo.", ["kind"], registry=registry, buckets=(1, 10))
    events = Counter("demo_events_total", "Demo.", ["type"], registry=registry)

    def sort(taken: list[tuple[float, int, str]]) -> None:
        seconds.labels("a").observe_many([duration for duration, _, _ in taken])
        sizes.labels("a").observe_many([size for _, size, _ in taken])
        for _, _, event_type in taken:
            events.labels(event_type).inc()

    samples: Samples[tuple[float, int, str]] = Samples(sort, [seconds, sizes, events])
    samples.record((0.5, 3, "A"))
    samples.record((0.05, 10, "B"))
    # Scraping any one family sorts every waiting sample into all three.
    assert registry.get_sample_value("demo_events_total", {"type": "A"}) == 1
    assert registry.get_sample_value("demo_seconds_bucket", {"kind": "a", "le": "0.1"}) == 1
    assert registry.get_sample_value("demo_size_bucket", {"kind": "a", "le": "10.0"}) == 2
    assert registry.get_sample_value("demo_size_sum", {"kind": "a"}) == 13
    for _ in range(FOLD_AT):
        samples.record((2.0, 20, "B"))
    assert events.labels("B").value == 1 + FOLD_AT  # sorted without a scrape: memory bounded
    assert registry.get_sample_value("demo_seconds_count", {"kind": "a"}) == FOLD_AT + 2
    assert registry.get_sample_value("demo_seconds_bucket", {"kind": "a", "le": "1.0"}) == 2


async def test_an_observed_append_counts_each_event_type_once_and_a_retry_not_at_all() -> None:
    store = await connect("memory://")
    obs = Observability()
    obs.store(store)
    batch = [NewEvent("A", {}, id=uuid4()), NewEvent("B", {}, id=uuid4()), NewEvent("A", {})]
    await store.append("s-1", batch[:2])
    await store.append("s-1", batch[:2])  # an exact retry: stored already, nothing added
    await store.append("s-2", [batch[2]])

    def sample(name: str, **labels: str) -> float | None:
        return obs.registry.get_sample_value(name, {"backend": "memory", **labels})

    assert sample("eventbook_appended_events_total", event_type="A") == 2
    assert sample("eventbook_appended_events_total", event_type="B") == 1
    assert sample("eventbook_append_duration_seconds_count") == 3
    assert sample("eventbook_stream_length_events_count") == 2
    assert sample("eventbook_stream_length_events_sum") == 2 + 1
    await store.close()


_CALLER_SPAN = """
import asyncio
from opentelemetry import context, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
import eventbook
from eventbook import CommandBus, CommandMetadata, Repository, aggregate_handler
from eventbook.observability import TRACEPARENT, Observability, tracing_configured
from tests.unit.write_domain import Order, PlaceOrder, order_events, stream_of

async def main() -> None:
    store = await eventbook.connect("memory://")
    obs = Observability()
    orders = obs.repository(Repository(obs.store(store), Order, order_events()))
    bus = obs.bus(CommandBus(store))
    bus.register(PlaceOrder, aggregate_handler(
        orders, stream=stream_of, act=lambda o, c: o.place(c.customer, c.total)))
    await bus.dispatch(PlaceOrder("1", "ann", 10))
    caller = SpanContext(0xAB, 0xCD, is_remote=True, trace_flags=TraceFlags(1))
    token = context.attach(trace.set_span_in_context(NonRecordingSpan(caller)))
    try:
        await bus.dispatch(PlaceOrder("2", "bo", 10))
    finally:
        context.detach(token)
    assert not tracing_configured()
    [plain] = [e async for e in store.read_stream("order-1")]
    [continued] = [e async for e in store.read_stream("order-2")]
    assert TRACEPARENT not in plain.metadata, plain.metadata
    assert continued.metadata[TRACEPARENT] == f"00-{0xAB:032x}-{0xCD:016x}-01"
    counted = obs.registry.get_sample_value(
        "eventbook_command_duration_seconds_count", {"command_type": "PlaceOrder", "outcome": "ok"}
    )
    assert counted == 2, counted

asyncio.run(main())
"""


def test_without_an_sdk_a_callers_span_still_reaches_the_events_metadata() -> None:
    # In a process of its own: the other tests here install an SDK for good.
    env = {"PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", _CALLER_SPAN], check=True, cwd=ROOT, env=env)
