"""eventbook's own counters and histograms read like prometheus_client's, and a batch's
event delays are sampled without losing a count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from eventbook import NewEvent, connect
from eventbook.observability._instruments import FOLD_AT, Counter, Histogram
from eventbook.observability._projections import DELAY_SAMPLES, delays


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
