"""Counters and histograms cheap enough for the command path, exposed through a registry.

`prometheus_client`'s own cost about 1.6 µs to find a labelled child and as much again
per sample (a lock, a walk along the buckets, two value objects): some 20 µs over the
half-dozen samples of one command, several percent of a command on SQLite. These keep
each labelled series in a dict (callers on hot paths resolve theirs once and keep it);
a counter adds under one lock; a histogram only appends the raw sample to a list, and
sorts the waiting samples into its buckets when scraped (`collect`) or once `FOLD_AT`
wait. A wrapper that takes several samples at once (an append: its duration, the
stream's length, its event types) records them as one tuple in a `Samples`, sorted into
their series the same way. Scrapes read them as ordinary Prometheus families. Gauges,
set at scrape time, stay `prometheus_client` gauges.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

Series = TypeVar("Series")
Sample = TypeVar("Sample")


class _Family(Collector, Generic[Series]):
    """Named, labelled series registered in `registry`; `labels(...)` finds one."""

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], registry: CollectorRegistry
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._series: dict[tuple[str, ...], Series] = {}
        self._lock = threading.Lock()
        self._feeders: list[Samples[Any]] = []
        registry.register(self)

    def labels(self, *values: str) -> Series:
        found = self._series.get(values)
        if found is not None:
            return found
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, not {values!r}")
        with self._lock:
            return self._series.setdefault(values, self._new_series())

    def _new_series(self) -> Series:
        raise NotImplementedError

    def _snapshot(self) -> list[tuple[tuple[str, ...], Series]]:
        for feeder in list(self._feeders):  # before this family's lock: they take it
            feeder.fold()
        with self._lock:
            return list(self._series.items())


class CounterSeries:
    __slots__ = ("_lock", "value")

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError(f"a counter only goes up, not by {amount}")
        with self._lock:
            self.value += amount


class Counter(_Family[CounterSeries]):
    """A counter family; `name` ends in `_total`, as exposed."""

    def _new_series(self) -> CounterSeries:
        return CounterSeries(self._lock)

    def describe(self) -> list[Metric]:
        return [CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for key, series in self._snapshot():
            family.add_metric(list(key), series.value)
        yield family


FOLD_AT = 256
"""Samples a histogram series keeps raw before sorting them into its buckets."""


class _Waiting(Generic[Sample]):
    """Samples appended to `pending` (one C call, atomic under the GIL) and handed to
    `_take` in bulk, under the lock, when a scrape asks (`fold`) or once `FOLD_AT` wait."""

    __slots__ = ("_lock", "pending")

    _lock: threading.Lock
    pending: list[Sample]

    def record(self, sample: Sample) -> None:
        pending = self.pending
        pending.append(sample)
        if len(pending) >= FOLD_AT:
            self.fold()

    def fold(self) -> None:
        """Hand the waiting samples to `_take`. `del pending[:n]` drops exactly the
        samples read, so one appended meanwhile (by another thread) waits for the next."""
        with self._lock:
            pending = self.pending
            taken = len(pending)
            if taken:
                self._take(pending[:taken])
                del pending[:taken]

    def _take(self, values: list[Sample]) -> None:
        raise NotImplementedError


class HistogramSeries(_Waiting[float]):
    """`observe` only appends the sample to a list (one C call, atomic under the GIL);
    the samples are sorted into buckets when a scrape reads the series, or once
    `FOLD_AT` of them wait, so that memory stays bounded without a scrape. The hottest
    callers do what `observe` does in their own frame: append to `pending`, then `fold()`
    once it holds `FOLD_AT` (a call costs more than the append)."""

    __slots__ = ("_bounds", "counts", "total")

    fold_at = FOLD_AT
    """For callers that append to `pending` themselves (`paging.PageTimes`)."""

    def __init__(self, bounds: tuple[float, ...], lock: threading.Lock) -> None:
        self._bounds = bounds
        self._lock = lock
        self.pending: list[float] = []
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        """Add one sample; a negative one counts as 0 (every histogram here measures a
        duration or a size; a delay across processes can dip below 0 with clock skew)."""
        self.record(value)

    def observe_many(self, values: Iterable[float]) -> None:
        """Add each of `values` (from a `Samples` being sorted), under one lock."""
        with self._lock:
            self._add(values)

    def observe_counted(self, samples: Iterable[tuple[float, int]]) -> None:
        """Add each `(value, count)`: `count` samples of that value, under one lock."""
        with self._lock:
            self._add_counted(samples)

    def _add(self, values: Iterable[float]) -> None:
        """Count sorted samples per bucket with one bisection per bound (in C), not a
        Python step per sample: folding costs next to nothing per sample."""
        ordered = sorted(values)
        counts, below = self.counts, 0
        for index, bound in enumerate(self._bounds):
            # bisect_right: a sample equal to a bound belongs to that bound's bucket (le).
            upto = bisect_right(ordered, bound)
            counts[index] += upto - below
            below = upto
        counts[-1] += len(ordered) - below
        # A negative sample counts as 0: in the first bucket (above), not in the sum.
        self.total += math.fsum(ordered[bisect_right(ordered, 0.0) :])

    _take = _add  # folding sorts the waiting samples into the buckets

    def _add_counted(self, samples: Iterable[tuple[float, int]]) -> None:
        bounds, counts, total = self._bounds, self.counts, 0.0
        for value, count in samples:
            if value > 0.0:
                counts[bisect_left(bounds, value)] += count
                total += value * count
            else:
                counts[0] += count
        self.total += total


class Histogram(_Family[HistogramSeries]):
    """A histogram family with fixed `buckets` (upper bounds; +Inf is added)."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry,
        buckets: Sequence[float],
    ) -> None:
        self.buckets = tuple(sorted(float(bound) for bound in buckets))
        super().__init__(name, documentation, labelnames, registry)

    def _new_series(self) -> HistogramSeries:
        return HistogramSeries(self.buckets, self._lock)

    def describe(self) -> list[Metric]:
        return [HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        bounds = [*(repr(bound) for bound in self.buckets), "+Inf"]
        for _, series in self._snapshot():
            series.fold()
        with self._lock:
            copied = [(key, list(s.counts), s.total) for key, s in self._series.items()]
        for key, counts, total in copied:
            cumulative, buckets = 0, []
            for bound, count in zip(bounds, counts, strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            family.add_metric(list(key), buckets, total)
        yield family


class Samples(_Waiting[Sample]):
    """Samples of several series taken together, one tuple per occasion: `record` only
    appends it to a list, and `sort` hands the waiting ones to their series in bulk when a
    family they feed is scraped, or once `FOLD_AT` wait. One call on the hot path instead
    of one per series (and none of their label look-ups); or none, for a caller that
    appends to `pending` itself, as `HistogramSeries` allows."""

    __slots__ = ("_sort",)

    def __init__(self, sort: Callable[[list[Sample]], None], feeds: Iterable[_Family[Any]]) -> None:
        self.pending: list[Sample] = []
        self._lock = threading.Lock()
        self._sort = sort
        for family in feeds:
            family._feeders.append(self)

    def _take(self, values: list[Sample]) -> None:
        self._sort(values)
