"""The Prometheus instruments of eventbook, created in a registry the caller owns.

Nothing is registered at import: `EventbookMetrics(registry)` creates every instrument
in that registry. Counters and histograms are eventbook's own (`_instruments`: cheap on
the command path), gauges `prometheus_client`'s. Labels are bounded: backends, event and
command types, aggregate and projection names, outcomes; never stream ids, event ids or
customer data.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

from eventbook.observability._instruments import Counter, Histogram

# Seconds: from a fast in-memory append (tens of µs) to a slow network round trip.
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
)  # fmt: skip
SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000)
DELAY_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)

OUTCOMES = ("ok", "duplicate", "conflict_retried", "rejected", "failed")
"""A command's outcome: stored, found stored already (same command id), stored after
`ConcurrencyError` retries, refused (a domain or validation error), or failed otherwise."""

BUILD = ("projection", "version")
PARTITION = (*BUILD, "partition")
"""Labels of a partitioned build's per-partition gauges: bounded by its partition count."""


class EventbookMetrics:
    """Every instrument, in one registry. Build one per registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        r = registry
        # -- the event store ----------------------------------------------------------------
        self.append_seconds = Histogram(
            "eventbook_append_duration_seconds",
            "Time to append one batch of events to a stream.",
            ["backend"], registry=r, buckets=LATENCY_BUCKETS,
        )  # fmt: skip
        self.appended_events = Counter(
            "eventbook_appended_events_total",
            "Events appended (retries that stored nothing not counted).",
            ["backend", "event_type"], registry=r,
        )  # fmt: skip
        self.append_conflicts = Counter(
            "eventbook_append_conflicts_total",
            "Appends refused because the stream was not at the expected version.",
            ["backend"], registry=r,
        )  # fmt: skip
        self.read_seconds = Histogram(
            "eventbook_read_duration_seconds",
            "Time to read one page: read=stream (one stream), all (global order), snapshot.",
            ["backend", "read"], registry=r, buckets=LATENCY_BUCKETS,
        )  # fmt: skip
        self.stream_length = Histogram(
            "eventbook_stream_length_events",
            "Length of the streams seen on append (the stream's new version).",
            ["backend"], registry=r, buckets=SIZE_BUCKETS,
        )  # fmt: skip
        self.snapshot_loads = Counter(
            "eventbook_snapshot_loads_total",
            "Snapshot look-ups by result: hit (a snapshot was found) or miss.",
            ["backend", "result"], registry=r,
        )  # fmt: skip
        self.subscriptions = Gauge(
            "eventbook_subscriptions_connected",
            "Live subscriptions open now, by kind: store (store.subscribe iterators) or one"
            " the application counts (Observability.subscribed).",
            ["kind"], registry=r,
        )  # fmt: skip
        # -- the write side -------------------------------------------------------------------
        self.command_seconds = Histogram(
            "eventbook_command_duration_seconds",
            "Time to handle one command, retries included, by type and outcome.",
            ["command_type", "outcome"], registry=r, buckets=LATENCY_BUCKETS,
        )  # fmt: skip
        self.load_seconds = Histogram(
            "eventbook_aggregate_load_duration_seconds",
            "Time to load one aggregate (snapshot and replay).",
            ["aggregate"], registry=r, buckets=LATENCY_BUCKETS,
        )  # fmt: skip
        self.load_events = Histogram(
            "eventbook_aggregate_load_events",
            "Events replayed to load one aggregate (after its snapshot, if any).",
            ["aggregate"], registry=r, buckets=(0, *SIZE_BUCKETS),
        )  # fmt: skip
        # -- projections (per build) ---------------------------------------------------------
        self.batch_seconds = Histogram(
            "eventbook_projection_batch_duration_seconds",
            "Time from a batch's first handled event to its commit.",
            BUILD, registry=r, buckets=LATENCY_BUCKETS,
        )  # fmt: skip
        self.handled_events = Counter(
            "eventbook_projection_events_handled_total",
            "Events committed by a projection build (in this process).",
            BUILD, registry=r,
        )  # fmt: skip
        self.event_delay = Histogram(
            "eventbook_projection_event_delay_seconds",
            "From an event's recording to the commit of the batch that handled it.",
            BUILD, registry=r, buckets=DELAY_BUCKETS,
        )  # fmt: skip
        self.position = Gauge(
            "eventbook_projection_position",
            "The build's checkpoint (the sequence part of its position).",
            BUILD, registry=r,
        )  # fmt: skip
        self.lag_events = Gauge(
            "eventbook_projection_lag_events",
            "Events the build has still to handle (counted up to a cap).",
            BUILD, registry=r,
        )  # fmt: skip
        self.lag_seconds = Gauge(
            "eventbook_projection_lag_seconds",
            "Age of the oldest event the build has not handled; 0 when caught up.",
            BUILD, registry=r,
        )  # fmt: skip
        self.state = Gauge(
            "eventbook_projection_state",
            "1 for the build's current state (catching_up, live, stopped, failed, ...).",
            [*BUILD, "state"], registry=r,
        )  # fmt: skip
        self.stuck = Gauge(
            "eventbook_projection_stuck",
            "1 when the build is halted, or behind without progress for too long.",
            BUILD, registry=r,
        )  # fmt: skip
        self.parked = Gauge(
            "eventbook_projection_parked_events",
            "Events parked (dead-lettered) by the build.",
            BUILD, registry=r,
        )  # fmt: skip
        self.lease_held = Gauge(
            "eventbook_projection_lease_held",
            "1 when this process holds the build's lease (it is the active runner).",
            BUILD, registry=r,
        )  # fmt: skip
        # -- partitions of a partitioned build (the build's gauges above show the worst) --
        self.partition_position = Gauge(
            "eventbook_projection_partition_position",
            "A partition's checkpoint (the sequence part of its position).",
            PARTITION, registry=r,
        )  # fmt: skip
        self.partition_lag_events = Gauge(
            "eventbook_projection_partition_lag_events",
            "Events a partition has still to handle (counted up to a cap).",
            PARTITION, registry=r,
        )  # fmt: skip
        self.partition_lag_seconds = Gauge(
            "eventbook_projection_partition_lag_seconds",
            "Age of the oldest event a partition has not handled; 0 when caught up.",
            PARTITION, registry=r,
        )  # fmt: skip
        self.partition_lease_held = Gauge(
            "eventbook_projection_partition_lease_held",
            "1 when this process holds the partition's lease.",
            PARTITION, registry=r,
        )  # fmt: skip
        # -- PostgreSQL's ordering horizon ----------------------------------------------------
        self.held_back_events = Gauge(
            "eventbook_postgres_held_back_events",
            "Committed events readers cannot see yet, behind an open transaction.",
            registry=r,
        )
        self.held_back_seconds = Gauge(
            "eventbook_postgres_held_back_seconds",
            "Age of the oldest held-back event; 0 when none.",
            registry=r,
        )
        self.holder_seconds = Gauge(
            "eventbook_postgres_oldest_transaction_seconds",
            "How long the oldest open transaction holding the horizon has been open.",
            registry=r,
        )
