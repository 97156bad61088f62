"""What the Operations page shows, from the store and the service's own metrics.

`StoreSizes`: the store's totals and largest streams, as `eventbook stats` prints them,
kept for a while: `stats` and `list_streams` scan the whole log, which a page polling
every few seconds must not repeat. `MetricsHistory`: the last minutes of the service's
Prometheus registry, sampled into a ring, as rates, quantiles and lags over time.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from prometheus_client import CollectorRegistry

from eventbook import EventStore, NotSupported

log = logging.getLogger("orders.monitoring")

SIZES_TTL = 30.0
"""Seconds a store-size answer is reused."""


class StoreSizes:
    """`await sizes.read(top)`: totals and the `top` largest streams, cached SIZES_TTL."""

    def __init__(self, store: EventStore, ttl: float = SIZES_TTL) -> None:
        self._store = store
        self._ttl = ttl
        self._lock = asyncio.Lock()
        self._read_at = -float("inf")
        self._answer: dict[str, Any] = {}
        self._streams: list[dict[str, Any]] = []

    async def read(self, top: int) -> dict[str, Any]:
        async with self._lock:  # one scan at a time, however many pages ask
            if time.monotonic() - self._read_at > self._ttl:
                await self._scan()
        return {**self._answer, "largest_streams": self._streams[:top]}

    async def _scan(self) -> None:
        try:
            totals = await self._store.stats()
            streams = await self._store.list_streams()
        except NotSupported as error:
            self._answer = {"supported": False, "detail": str(error)}
            self._streams = []
        else:
            largest = sorted(streams, key=lambda s: (-s.bytes, s.stream))[:100]
            built = msgspec.to_builtins(totals)
            self._answer = {"supported": True, **built, "read_at": time.time()}
            self._streams = [
                {"stream": s.stream, "events": s.version, "bytes": s.bytes} for s in largest
            ]
        self._read_at = time.monotonic()


# -- the Operations page's history, sampled from the service's own Prometheus registry ------

SAMPLE_EVERY = 5.0
"""Seconds between two samples of the registry."""
KEEP = 120
"""Samples kept: ten minutes at SAMPLE_EVERY."""
LATENCIES = {
    "command": "eventbook_command_duration_seconds",
    "append": "eventbook_append_duration_seconds",
}
LAG = "eventbook_projection_lag_events"
LAG_SECONDS = "eventbook_projection_lag_seconds"
PARTITION_LAG = "eventbook_projection_partition_lag_events"
"""A partitioned build's lag per partition (the build's own lag is the worst one's)."""
HELD_BACK = "eventbook_postgres_held_back_events"


class _Sample(msgspec.Struct, frozen=True):
    at: float
    buckets: dict[str, list[tuple[float, float]]]  # latency -> cumulative (bound, count)
    lag: dict[str, tuple[float, float]]  # "name@vN" -> (events, seconds)
    partition_lag: dict[str, dict[str, float]]  # "name@vN" -> partition -> events
    held_back: float | None


class MetricsHistory:
    """Samples the registry every SAMPLE_EVERY seconds into a ring of KEEP samples.

    The values are the registry's (the same that /metrics serves): nothing is counted a
    second time. `series()` turns neighbouring samples into rates and quantiles, as
    Prometheus's `rate` and `histogram_quantile` would over one sample interval.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        refresh: Callable[[], Awaitable[None]],
        every: float = SAMPLE_EVERY,
        keep: int = KEEP,
    ) -> None:
        self._registry = registry
        self._refresh = refresh
        self._every = every
        self._samples: collections.deque[_Sample] = collections.deque(maxlen=keep)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self._refresh()  # the gauges read at scrape time: lag, held back
                self._samples.append(self._sample())
            except Exception:
                log.warning("could not sample the metrics", exc_info=True)
            await asyncio.sleep(self._every)

    def _sample(self) -> _Sample:
        buckets: dict[str, dict[float, float]] = {name: {} for name in LATENCIES}
        lag: dict[str, list[float]] = {}
        partition_lag: dict[str, dict[str, float]] = {}
        held_back = None
        by_family = {family: name for name, family in LATENCIES.items()}
        for metric in self._registry.collect():
            for sample in metric.samples:
                labels = sample.labels
                if sample.name.endswith("_bucket") and metric.name in by_family:
                    into = buckets[by_family[metric.name]]
                    bound = float(labels["le"])
                    into[bound] = into.get(bound, 0.0) + sample.value  # summed over labels
                elif sample.name in (LAG, LAG_SECONDS):
                    build = f"{labels['projection']}@v{labels['version']}"
                    pair = lag.setdefault(build, [0.0, 0.0])
                    pair[0 if sample.name == LAG else 1] = sample.value
                elif sample.name == PARTITION_LAG:
                    build = f"{labels['projection']}@v{labels['version']}"
                    partition_lag.setdefault(build, {})[labels["partition"]] = sample.value
                elif sample.name == HELD_BACK:
                    held_back = sample.value
        return _Sample(
            at=time.time(),
            buckets={name: sorted(found.items()) for name, found in buckets.items()},
            lag={build: (pair[0], pair[1]) for build, pair in lag.items()},
            partition_lag=partition_lag,
            held_back=held_back,
        )

    def series(self) -> dict[str, Any]:
        """One point per sample interval: per latency its rate (/s), p50 and p99 (s);
        per projection build its lag in events and seconds (and for a partitioned build
        each partition's lag in events, `partitions`); the held-back events."""
        samples = list(self._samples)
        points = []
        for before, after in itertools.pairwise(samples):
            elapsed = after.at - before.at
            point: dict[str, Any] = {"at": after.at}
            for name in LATENCIES:
                delta = _delta(before.buckets[name], after.buckets[name])
                total = delta[-1][1] if delta else 0.0
                point[name] = {
                    "per_second": total / elapsed if elapsed > 0 else 0.0,
                    "p50": _quantile(0.5, delta),
                    "p99": _quantile(0.99, delta),
                }
            point["lag"] = {
                build: {
                    "events": events,
                    "seconds": seconds,
                    **_partitions(after.partition_lag.get(build)),
                }
                for build, (events, seconds) in after.lag.items()
            }
            point["held_back"] = after.held_back
            points.append(point)
        return {"every": self._every, "points": points}


def _partitions(lags: dict[str, float] | None) -> dict[str, Any]:
    if not lags:
        return {}
    return {"partitions": {p: lags[p] for p in sorted(lags, key=int)}}


def _delta(
    before: list[tuple[float, float]], after: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """Cumulative bucket counts gained between two samples."""
    earlier = dict(before)
    return [(bound, count - earlier.get(bound, 0.0)) for bound, count in after]


def _quantile(q: float, cumulative: list[tuple[float, float]]) -> float | None:
    """`histogram_quantile`: linear within the bucket holding the rank; None when empty."""
    if not cumulative or cumulative[-1][1] <= 0:
        return None
    rank = q * cumulative[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in cumulative:
        if count >= rank:
            if math.isinf(bound):
                return lower  # above the highest finite bound: that bound, as Prometheus
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower
