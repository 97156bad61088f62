"""A property-based test of the whole event-store contract, for any backend.

`check_store_contract(open_store)` lets hypothesis drive random interleavings of what a
store must support against a plain model (`eventbook.testing.store_model`), each example on
a fresh, empty store from `open_store` (an async context manager: it may make and drop a
schema, a JetStream stream, ...):

- appends of batches of 1 to 3 events with every expected-version mode (`ANY`,
  `NO_STREAM`, `0`, `STREAM_EXISTS`, the current version, a stale one, one ahead), with
  `restart` or not (refused with `StreamDeleted` by a deleted stream without it);
- exact retries of acknowledged batches (the original result, `replayed`, whatever the
  expectation) and reuses of their ids that are not retries (`DuplicateEventError`);
- concurrent appends to several streams, two appends racing on one expectation (one
  wins), identical retries sent at once (stored once) (`property_concurrency`);
- reads: one stream (or its `$$` system stream) forwards and backwards, from a version,
  with a limit, in pages, a missing or deleted stream with `must_exist`; `read_all` and
  `read_all_page` after any position seen (a removed event's too), filtered by type or
  category (the system events' included); `head`, `stream_version`, `read_event` (of
  removed events too);
- subscriptions opened after any position, pulled a few events at a time between the
  other steps, so that they catch up and then follow new appends;
- the stream lifecycle (`eventbook.testing.property_lifecycle`): soft deletes and
  tombstones with every expected-version mode, truncations before a version and at the
  newest snapshot, retention enforced, purges, `stream_state`, snapshots saved and
  loaded. Positions of removed events must never come back, and `read_all` must stay in
  order without duplicates. A store that refuses the lifecycle with `NotSupported` (a
  probe finds out, or pass `lifecycle=False`) runs without those rules.

Every rule runs on one event loop that the machine owns (made in `__init__`, closed in
`teardown`), as an application's store lives on one loop.

Run it from a test, with a fresh store per example::

    def test_the_contract_holds(tmp_path):
        names = itertools.count()

        @contextlib.asynccontextmanager
        async def fresh():
            async with await eventbook.connect(f"sqlite:///{tmp_path}/{next(names)}.db") as store:
                yield store

        check_store_contract(fresh)

How long: `EVENTBOOK_PROPERTY_EXAMPLES` examples (default 20) of at most
`EVENTBOOK_PROPERTY_STEPS` steps (default 50); `EVENTBOOK_PROPERTY_EXAMPLES=2000` makes a
long run. Failures shrink to a short sequence of steps, printed as code.

Adding operations: teach the model (`StoreModel` in `eventbook.testing.store_model`,
with the lifecycle in `store_lifecycle_model`) what the operation leaves visible (its
reads go through `StoreModel.stream` and `StoreModel.log`, so they follow), then add a
`@rule` (here, in `property_lifecycle`, or in a subclass of `EventStoreMachine`, passed
as `machine=`) that calls the store, asks the model what must happen and checks it. The
read rules need no change.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule, run_state_machine_as_test

from eventbook._store.ids import uuid7
from eventbook._store.lifecycle import STREAM_DELETED, STREAM_TRUNCATED, metadata_stream
from eventbook._store.port import EventStore
from eventbook._store.types import ANY, Expected, NewEvent, RecordedEvent
from eventbook.testing.property_base import (
    EXPECTATIONS,
    STREAMS,
    check_refusal,
    collect,
    pick,
)
from eventbook.testing.property_concurrency import ConcurrentAppendRules
from eventbook.testing.property_lifecycle import LifecycleRules, offers_lifecycle
from eventbook.testing.store_lifecycle_model import StoreLifecycleModel
from eventbook.testing.store_model import (
    ContractBroken,
    Outcome,
    Stored,
    Subscription,
    matching,
)

StoreOpener = Callable[[], AbstractAsyncContextManager[EventStore]]
"""Gives a fresh, empty store for each example, and removes it afterwards."""
T = TypeVar("T")

TYPES = ("Placed", "Paid")
FILTER_TYPES = (*TYPES, STREAM_DELETED, STREAM_TRUNCATED)
CATEGORIES = ("order", "cart", metadata_stream("order"))
READ_STREAMS = (*STREAMS, metadata_stream("order-1"))
PULL_TIMEOUT = 3.0
"""Seconds a subscription may take to hand over an event the store has."""
MOST_SUBSCRIPTIONS = 3

notes = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=6)
limits = st.none() | st.integers(1, 4)
filters = st.sampled_from(["none", "types", "categories"])


def contract_settings(examples: int | None = None, steps: int | None = None) -> settings:
    """Bounded for CI; `EVENTBOOK_PROPERTY_EXAMPLES` / `_STEPS` make longer runs."""
    return settings(
        max_examples=examples or int(os.environ.get("EVENTBOOK_PROPERTY_EXAMPLES", "20")),
        stateful_step_count=steps or int(os.environ.get("EVENTBOOK_PROPERTY_STEPS", "50")),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def check_store_contract(
    open_store: StoreOpener,
    *,
    examples: int | None = None,
    steps: int | None = None,
    machine: type[EventStoreMachine] | None = None,
    lifecycle: bool | None = None,
) -> None:
    """Run the machine (or a subclass with more rules) on fresh stores from `open_store`.

    `lifecycle`: whether to drive the stream-lifecycle rules; None asks each fresh store
    (a store that raises `NotSupported` for them runs without them).
    """
    kind = machine or EventStoreMachine
    attributes = {"opener": staticmethod(open_store), "lifecycle_offered": lifecycle}
    bound = type(f"{kind.__name__}OnFreshStores", (kind,), attributes)
    run_state_machine_as_test(bound, settings=contract_settings(examples, steps))


class EventStoreMachine(ConcurrentAppendRules, LifecycleRules):
    """The store under test beside the model; each rule is one thing a client does."""

    opener: StoreOpener
    """Set by `check_store_contract`: a fresh, empty store per example."""
    lifecycle_offered: bool | None = None
    """Set by `check_store_contract`: None to ask the store."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.model = StoreLifecycleModel()
        self.counter = itertools.count()
        self.subscriptions: list[Subscription] = []
        self._opened = self.opener()
        self.store = self.run(self._opened.__aenter__())
        offered = self.lifecycle_offered
        self.lifecycle = self.run(offers_lifecycle(self.store)) if offered is None else offered

    def teardown(self) -> None:
        try:
            for subscription in self.subscriptions:
                self.run(subscription.events.aclose())  # type: ignore[attr-defined]
            self.run(self._opened.__aexit__(None, None, None))
        finally:
            self.loop.close()

    def append_and_check(
        self, stream: str, events: list[NewEvent], expected: Expected, restart: bool = False
    ) -> None:
        """Append, and check the answer against what the model says must happen."""
        outcome = self.model.predict(stream, events, expected, restart)
        step = self.store.append(stream, events, expected=expected, restart=restart)
        result, refused = self.attempt(step)
        if refused is not None:
            check_refusal(outcome, refused, f"append to {stream}")
            return
        assert result is not None
        if outcome.kind == "replay":
            last = outcome.event
            assert last is not None
            if last.position is None:  # a position shown for the first time
                last.position = result.position
            if (result.version, result.position, result.replayed) != (
                last.version,
                last.position,
                True,
            ):
                raise ContractBroken(f"{stream}: a retry answered {result}, not {last}")
            self.model.check_order()
            return
        if outcome.kind != "append":
            raise ContractBroken(f"{stream}: appended ({result}), wanted {outcome}")
        self.model.record(stream, events, result)

    # -- appends -----------------------------------------------------------------------------

    @rule(
        stream=st.sampled_from(STREAMS),
        count=st.integers(1, 3),
        kind=st.sampled_from(TYPES),
        note=notes,
        mode=st.sampled_from(EXPECTATIONS),
        ahead=st.integers(1, 3),
        restart=st.booleans(),
    )
    def append(
        self, stream: str, count: int, kind: str, note: str, mode: str, ahead: int, restart: bool
    ) -> None:
        events = self.new_events(count, kind, note)
        self.append_and_check(stream, events, self.expectation(stream, mode, ahead), restart)

    @precondition(lambda self: self.model.batches)
    @rule(data=st.data(), mode=st.sampled_from(EXPECTATIONS), ahead=st.integers(1, 3))
    def retry(self, data: st.DataObject, mode: str, ahead: int) -> None:
        batch = pick(data, self.model.batches, "batch")
        expected = self.expectation(batch.stream, mode, ahead)
        self.append_and_check(batch.stream, list(batch.events), expected)

    @precondition(lambda self: self.model.batches)
    @rule(data=st.data(), how=st.sampled_from(["extra", "elsewhere", "reordered", "changed"]))
    def reuse_ids(self, data: st.DataObject, how: str) -> None:
        batch = pick(data, self.model.batches, "batch")
        events = list(batch.events)
        stream = batch.stream
        if how == "extra":
            events.append(NewEvent("Placed", {"n": next(self.counter)}))
        elif how == "elsewhere":
            stream = next(s for s in STREAMS if s != batch.stream)
        elif how == "reordered" and len(events) > 1:
            events.reverse()
        else:
            first = events[0]
            events[0] = NewEvent(first.type, {**first.data, "changed": True}, id=first.id)
        self.append_and_check(stream, events, ANY)

    # -- reads -------------------------------------------------------------------------------

    @rule(
        stream=st.sampled_from(READ_STREAMS),
        backwards=st.booleans(),
        start=st.none() | st.integers(1, 12),
        limit=limits,
        pages=st.booleans(),
    )
    def read_stream(
        self, stream: str, backwards: bool, start: int | None, limit: int | None, pages: bool
    ) -> None:
        events = self.model.stream(stream)
        if backwards:
            wanted = [e for e in reversed(events) if start is None or e.version <= start]
        else:
            wanted = [e for e in events if start is None or e.version >= start]
        wanted = wanted[:limit]
        options: dict[str, Any] = {"from_version": start, "backwards": backwards, "limit": limit}
        if pages:
            read = self.run(collect(self.store.read_stream_pages(stream, **options)))
            if any(not page for page in read):
                raise ContractBroken(f"read_stream_pages({stream}) yielded an empty page")
            seen = [e for page in read for e in page]
        else:
            seen = self.run(collect(self.store.read_stream(stream, **options)))
        self.model.check(seen, wanted, f"read_stream({stream}, {options})")

    @rule(stream=st.sampled_from(STREAMS))
    def read_missing_stream(self, stream: str) -> None:
        """`must_exist` on a stream without visible events: `StreamDeleted` (hard or not)
        for a deleted one, a plain `StreamNotFound` otherwise."""
        if self.model.stream(stream):
            return
        life = self.model.life(stream)
        deleted = life.deleted or life.tombstoned
        wanted = Outcome("deleted", hard=life.tombstoned) if deleted else Outcome("missing")
        _, refused = self.attempt(collect(self.store.read_stream(stream, must_exist=True)))
        if refused is None:
            raise ContractBroken(f"read_stream({stream}, must_exist=True) did not raise")
        check_refusal(wanted, refused, f"read_stream({stream}, must_exist=True)")

    @rule(data=st.data(), limit=limits, which=filters, paged=st.booleans())
    def read_all(self, data: st.DataObject, limit: int | None, which: str, paged: bool) -> None:
        start = self._draw_after(data, removed_too=True)
        after = None if start is None else start.position
        types, categories = _filters(data, which)
        wanted = matching(self.model.after(-1 if start is None else start.seq), types, categories)
        if paged:
            size = limit or 1000
            seen = self.run(
                self.store.read_all_page(
                    after=after, limit=size, types=types, categories=categories
                )
            )
            wanted = wanted[:size]
        else:
            seen = self.run(
                collect(
                    self.store.read_all(
                        after=after, limit=limit, types=types, categories=categories
                    )
                )
            )
            wanted = wanted[:limit]
        positions = [e.position for e in seen]
        too_early = after is not None and bool(positions) and positions[0] <= after
        if positions != sorted(set(positions)) or too_early:
            raise ContractBroken(f"read_all(after={after}) is out of order: {positions}")
        self.model.check(seen, wanted, f"read_all(after={after}, limit={limit}, {which})")

    @rule(data=st.data())
    def point_reads(self, data: st.DataObject) -> None:
        head = self.run(self.store.head())
        log = self.model.log
        newest = log[-1] if log else None
        if newest is None and head is not None:
            raise ContractBroken(f"an empty store has head {head}")
        if newest is not None:
            if newest.position is None:
                newest.position = head
            if head != newest.position:
                raise ContractBroken(f"head is {head}, not {newest.position}")
        for stream in STREAMS:
            if self.run(self.store.stream_version(stream)) != self.model.held_version(stream):
                raise ContractBroken(
                    f"stream_version({stream}) is not {self.model.held_version(stream)}"
                )
        # A removed event must not be found any more; a system event once its id is known.
        choices = [e for e in self.model.everything if e.id is not None]
        known = pick(data, [None, *choices], "event")
        wanted_id = uuid7() if known is None else known.id
        assert wanted_id is not None
        found = self.run(self.store.read_event(wanted_id))
        # The id of a removed event may have been stored again since (ids are freed);
        # system events are not in `by_id`.
        alive = None if known is None else self.model.by_id.get(wanted_id, known)
        wanted = [] if alive is None or alive.removed else [alive]
        self.model.check([] if found is None else [found], wanted, "read_event")

    # -- subscriptions -----------------------------------------------------------------------

    @precondition(lambda self: len(self.subscriptions) < MOST_SUBSCRIPTIONS)
    @rule(data=st.data(), which=filters)
    def subscribe(self, data: st.DataObject, which: str) -> None:
        start = self._draw_after(data, removed_too=False)
        after = None if start is None else start.position
        types, categories = _filters(data, which)
        events = self.store.subscribe(after=after, types=types, categories=categories)
        last = -1 if start is None else start.seq
        self.subscriptions.append(Subscription(events, types, categories, last))

    @precondition(lambda self: self.subscriptions)
    @rule(data=st.data(), most=st.integers(1, 6))
    def pull_subscription(self, data: st.DataObject, most: int) -> None:
        """Take what the subscription must have by now, up to `most` events (never more:
        a caught-up subscription waits for the next append). Events removed since it
        fetched them may come in between, in order, once."""
        subscription = pick(data, self.subscriptions, "subscription")
        wanted = subscription.pending(self.model)[:most]
        for expected in wanted:
            seen = self._pull(subscription)
            removed = self.model.removed_event(seen)
            while removed is not None and subscription.may_yield_removed(removed):
                self.model.check([seen], [removed], f"subscribe({subscription}), removed")
                subscription.last = removed.seq
                seen = self._pull(subscription)
                removed = self.model.removed_event(seen)
            self.model.check([seen], [expected], f"subscribe({subscription})")
            subscription.last = expected.seq

    # -- helpers -----------------------------------------------------------------------------

    def _pull(self, subscription: Subscription) -> RecordedEvent:
        step = asyncio.wait_for(anext(subscription.events), PULL_TIMEOUT)
        return self.loop.run_until_complete(step)

    def _draw_after(self, data: st.DataObject, *, removed_too: bool) -> Stored | None:
        """None (from the start) or an event whose position the store showed: a stored
        one, or (`removed_too`) one removed since, as a reader's checkpoint may be."""
        choices = self.model.known() + (self.model.removed_known() if removed_too else [])
        return pick(data, [None, *choices], "after")


def _filters(data: st.DataObject, which: str) -> tuple[list[str] | None, list[str] | None]:
    """(types, categories) of a read: none, or one or two of each."""
    if which == "types":
        return data.draw(
            st.lists(st.sampled_from(FILTER_TYPES), min_size=1, max_size=2, unique=True)
        ), None
    if which == "categories":
        chosen = st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=2, unique=True)
        return None, data.draw(chosen)
    return None, None
