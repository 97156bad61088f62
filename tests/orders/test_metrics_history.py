"""The Operations page's history: rates and quantiles between two samples of the very
registry /metrics serves, and each projection build's lag."""

from __future__ import annotations

import pytest
from apps.orders.monitoring import MetricsHistory

from eventbook.observability import EventbookMetrics, Observability


async def test_two_samples_make_a_point_of_rates_quantiles_and_lags() -> None:
    obs = Observability()
    metrics = obs.metrics
    assert isinstance(metrics, EventbookMetrics)

    async def refresh() -> None:
        metrics.lag_events.labels("orders", "1").set(7)
        metrics.lag_seconds.labels("orders", "1").set(1.5)

    history = MetricsHistory(obs.registry, refresh)
    metrics.command_seconds.labels("PlaceOrder", "ok").observe(5.0)  # before: not counted
    await refresh()
    first = history._sample()
    for value in [0.002] * 98 + [0.2, 0.2]:  # two command types, summed
        metrics.command_seconds.labels("PlaceOrder" if value < 0.1 else "ShipOrder", "ok").observe(
            value
        )
    second = history._sample()
    history._samples.extend([first, second])
    (point,) = history.series()["points"]
    elapsed = second.at - first.at
    assert point["command"]["per_second"] == pytest.approx(100 / elapsed)
    assert 0.001 < point["command"]["p50"] <= 0.0025  # within the bucket holding the rank
    assert 0.1 < point["command"]["p99"] <= 0.25
    assert point["append"] == {"per_second": 0.0, "p50": None, "p99": None}
    assert point["lag"] == {"orders@v1": {"events": 7.0, "seconds": 1.5}}
    assert point["held_back"] == 0.0
