"""The stream-lifecycle rules of the property-based contract test
(`eventbook.testing.property.EventStoreMachine` has them):

- soft deletes and tombstones with every expected-version mode (appends afterwards, with
  `restart` or not, are in the append rules);
- truncations before a version and at the newest snapshot, with snapshots saved at a
  stream's versions and loaded back;
- retention settings, then `retained_streams` and `enforce_retention` with a `now` that
  makes every event too old for `max_age`, or none;
- purges (what `eventbook archive` does after writing a stream out);
- `stream_state` of every stream.

A backend that refuses these operations with `NotSupported` runs the machine without
them (`lifecycle` is False: found by a probe, or passed to `check_store_contract`); the
snapshot and `stream_state` rules run everywhere.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from eventbook._errors import NotSupported, StreamNotFound
from eventbook._store.port import EventStore
from eventbook._store.types import AppendResult
from eventbook.testing.property_base import (
    EXPECTATIONS,
    STREAMS,
    StoreMachineBase,
    check_refusal,
    pick,
)
from eventbook.testing.store_model import ContractBroken, Outcome

SCHEMAS = ("s1", "s2")
LIKELY_EXPECTATIONS = ("any", "current", "exists", *EXPECTATIONS)
"""Every mode, those that let a delete through more often."""
MAX_AGE = timedelta(days=1)
PROBE_STREAM = "lifecycle-probe"
"""Never written: deleting it is refused with `StreamNotFound` by a store that offers
the lifecycle (changing nothing), with `NotSupported` by one that does not."""


class LifecycleRules(StoreMachineBase):
    """The lifecycle rules (each runs only when `lifecycle` is True), snapshots and states."""

    # -- delete, truncate, purge -------------------------------------------------------------

    @precondition(lambda self: self.lifecycle)
    @rule(data=st.data(), mode=st.sampled_from(LIKELY_EXPECTATIONS), ahead=st.integers(1, 3))
    def delete_stream(self, data: st.DataObject, mode: str, ahead: int) -> None:
        self.remove_stream(self.draw_stream(data), "delete", mode, ahead)

    @precondition(lambda self: self.lifecycle)
    @rule(
        data=st.data(),
        how=st.sampled_from(["tombstone", "purge"]),
        mode=st.sampled_from(LIKELY_EXPECTATIONS),
        ahead=st.integers(1, 3),
    )
    def tombstone_or_purge_stream(
        self, data: st.DataObject, how: str, mode: str, ahead: int
    ) -> None:
        self.remove_stream(self.draw_stream(data), how, mode, ahead)

    def remove_stream(self, stream: str, how: str, mode: str, ahead: int) -> None:
        """Soft delete, tombstone (both with an expectation) or purge."""
        if how == "purge":
            outcome = self.model.predict_purge(stream)
            result = self.expect(outcome, self.store.purge_stream(stream), f"purge {stream}")
            if result is not None:
                self.model.purge(stream, result)
            return
        hard = how == "tombstone"
        expected = self.expectation(stream, mode, ahead)
        outcome = self.model.predict_delete(stream, expected, hard)
        call = self.store.tombstone_stream if hard else self.store.delete_stream
        result = self.expect(outcome, call(stream, expected=expected), f"{how} {stream}")
        if result is not None:
            self.model.delete(stream, hard, result)

    @precondition(lambda self: self.lifecycle)
    @rule(data=st.data(), beyond=st.sampled_from([None, 0, 1, 2, 3, 4]))
    def truncate_stream(self, data: st.DataObject, beyond: int | None) -> None:
        """Before the first visible version + `beyond` (0 removes nothing), or, for None,
        at the newest snapshot."""
        stream = self.draw_stream(data)
        before = None if beyond is None else self.model.life(stream).first_version + beyond
        outcome = self.model.predict_truncate(stream, before)
        step = self.store.truncate_stream(stream, before=before)
        result = self.expect(outcome, step, f"truncate {stream} before {before}")
        if result is not None:
            self.model.truncate(stream, outcome.cut, result)

    def draw_stream(self, data: st.DataObject) -> str:
        """Mostly a stream with events (so that the step changes something), sometimes any."""
        lived = [s for s in STREAMS if self.model.held(s)]
        return pick(data, lived * 3 + list(STREAMS), "stream")

    def expect(
        self, outcome: Outcome, step: Awaitable[AppendResult | None], what: str
    ) -> AppendResult | None:
        """Run a lifecycle step; its result when it must change the stream, else None
        (after checking that it refused, or answered None, as `outcome` says)."""
        result, refused = self.attempt(step)
        if refused is not None:
            check_refusal(outcome, refused, what)
            return None
        if outcome.kind == "unchanged" and result is None:
            return None
        if outcome.kind not in ("delete", "truncate", "purge") or result is None:
            raise ContractBroken(f"{what}: answered {result}, wanted {outcome}")
        return result

    # -- retention ---------------------------------------------------------------------------

    @precondition(lambda self: self.lifecycle)
    @rule(
        stream=st.sampled_from(STREAMS),
        max_count=st.none() | st.integers(1, 4),
        max_age=st.booleans(),
    )
    def set_retention(self, stream: str, max_count: int | None, max_age: bool) -> None:
        age = MAX_AGE if max_age else None
        self.run(self.store.set_stream_retention(stream, max_count=max_count, max_age=age))
        self.model.set_retention(stream, max_count, age)

    @precondition(lambda self: self.lifecycle)
    @rule(all_too_old=st.booleans())
    def enforce_retention(self, all_too_old: bool) -> None:
        """What `eventbook maintain` does, at a `now` when every event is too old for
        `max_age`, or none is."""
        states = self.run(self.store.retained_streams())
        seen = [(s.stream, s.version, s.first_version, s.max_count, s.max_age) for s in states]
        wanted = [
            (name, self.model.version(name), life.first_version, life.max_count, life.max_age)
            for name, life in self.model.retained()
        ]
        if seen != wanted:
            raise ContractBroken(f"retained_streams() is {seen}, not {wanted}")
        now = datetime.now(UTC) + (2 * MAX_AGE if all_too_old else timedelta(0))
        for state in states:
            outcome = self.model.retention_cut(state.stream, all_too_old)
            step = self.store.enforce_retention(state, now=now)
            result = self.expect(outcome, step, f"enforce_retention({state})")
            if result is not None:
                self.model.truncate(state.stream, outcome.cut, result)

    # -- snapshots ---------------------------------------------------------------------------

    @precondition(lambda self: any(self.model.stream(s) for s in STREAMS))
    @rule(data=st.data(), schema=st.sampled_from(SCHEMAS))
    def save_snapshot(self, data: st.DataObject, schema: str) -> None:
        """At a version a reader of the stream sees, as a repository would."""
        stream = pick(data, [s for s in STREAMS if self.model.stream(s)], "stream")
        version = pick(data, [e.version for e in self.model.stream(stream)], "version")
        state = {"at": version, "schema": schema}
        self.run(self.store.save_snapshot(stream, version, state, schema=schema))
        self.model.save_snapshot(stream, version, schema, state)

    @rule(
        stream=st.sampled_from(STREAMS),
        schema=st.sampled_from(SCHEMAS),
        max_version=st.none() | st.integers(1, 12),
    )
    def load_snapshot(self, stream: str, schema: str, max_version: int | None) -> None:
        found = self.run(self.store.load_snapshot(stream, schema=schema, max_version=max_version))
        seen = None if found is None else (found.version, found.state)
        wanted = self.model.load_snapshot(stream, schema, max_version)
        if seen != wanted or (
            found is not None and (found.stream, found.schema) != (stream, schema)
        ):
            raise ContractBroken(f"load_snapshot({stream}, {schema}, {max_version}): {found}")

    # -- state -------------------------------------------------------------------------------

    @rule()
    def stream_states(self) -> None:
        for stream in STREAMS:
            state = self.run(self.store.stream_state(stream))
            life = self.model.life(stream)
            version = self.model.version(stream)
            wanted: tuple[Any, ...] = (
                stream,
                version,
                life.first_version,
                life.deleted,
                life.tombstoned,
                life.max_count,
                life.max_age,
                not (life.deleted or life.tombstoned) and life.first_version <= version,
            )
            seen = (
                state.stream,
                state.version,
                state.first_version,
                state.deleted,
                state.tombstoned,
                state.max_count,
                state.max_age,
                state.exists,
            )
            if seen != wanted:
                raise ContractBroken(f"stream_state({stream}) is {seen}, not {wanted}")


async def offers_lifecycle(store: EventStore) -> bool:
    """Whether `store` offers the stream lifecycle, asked without changing it."""
    try:
        await store.delete_stream(PROBE_STREAM)
    except NotSupported:
        return False
    except StreamNotFound:
        pass
    else:
        raise ContractBroken(f"deleting {PROBE_STREAM!r}, never written, did not raise")
    try:
        await store.retained_streams()
    except NotSupported:
        return False
    return True
