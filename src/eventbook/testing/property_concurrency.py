"""The concurrency rules of the property-based contract test
(`eventbook.testing.property.EventStoreMachine` has them): appends to several streams at
once, two appends racing on one expectation (one wins), identical retries sent at once
(stored once); on a deleted stream, each is refused with `StreamDeleted`."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import rule

from eventbook._errors import ConcurrencyError, StreamDeleted
from eventbook._store.types import ANY
from eventbook.testing.property_base import STREAMS, StoreMachineBase, check_refusal, together
from eventbook.testing.store_model import ContractBroken


class ConcurrentAppendRules(StoreMachineBase):
    """Steps that send several appends at once."""

    @rule(
        streams=st.lists(st.sampled_from(STREAMS), min_size=2, max_size=4),
        count=st.integers(1, 2),
    )
    def concurrent_appends(self, streams: list[str], count: int) -> None:
        batches = [(stream, self.new_events(count, "Placed", "")) for stream in streams]
        outcomes = [self.model.predict(stream, events, ANY) for stream, events in batches]
        answers = self.run(
            together(
                *(self.store.append(stream, events) for stream, events in batches),
                return_exceptions=True,
            )
        )
        acknowledged = []
        for (stream, events), outcome, answer in zip(batches, outcomes, answers, strict=True):
            if isinstance(answer, BaseException):
                if not isinstance(answer, StreamDeleted):
                    raise answer
                check_refusal(outcome, answer, f"concurrent append to {stream}")
            elif outcome.kind != "append":
                raise ContractBroken(f"concurrent append to {stream}: {answer}, not {outcome}")
            else:
                acknowledged.append((stream, events, answer))
        # Acknowledged concurrently, stored in some order: the positions tell which.
        for stream, events, result in sorted(acknowledged, key=lambda a: a[2].position):
            self.model.record(stream, events, result)

    @rule(stream=st.sampled_from(STREAMS), mode=st.sampled_from(["current", "no_stream"]))
    def racing_expectations(self, stream: str, mode: str) -> None:
        expected = self.expectation(stream, mode, 1)
        racers = [self.new_events(1, "Paid", str(n)) for n in range(2)]
        outcomes = self.run(
            together(
                *(self.store.append(stream, events, expected=expected) for events in racers),
                return_exceptions=True,
            )
        )
        predicted = self.model.predict(stream, racers[0], expected)
        if predicted.kind != "append":
            for outcome in outcomes:
                if not isinstance(outcome, ConcurrencyError | StreamDeleted):
                    raise ContractBroken(f"{stream}: appends expecting {expected}: {outcomes}")
                check_refusal(predicted, outcome, f"racing appends to {stream}")
            return
        won = [
            (events, o)
            for events, o in zip(racers, outcomes, strict=True)
            if not isinstance(o, BaseException)
        ]
        lost = [o for o in outcomes if isinstance(o, BaseException)]
        if len(won) != 1 or not all(isinstance(o, ConcurrencyError) for o in lost):
            raise ContractBroken(f"{stream}: two appends expecting {expected}: {outcomes}")
        self.model.record(stream, won[0][0], won[0][1])

    @rule(stream=st.sampled_from(STREAMS), count=st.integers(1, 3))
    def identical_retries_at_once(self, stream: str, count: int) -> None:
        events = self.new_events(count, "Placed", "")
        predicted = self.model.predict(stream, events, ANY)
        results = self.run(
            together(*(self.store.append(stream, events) for _ in range(3)), return_exceptions=True)
        )
        if predicted.kind == "deleted":
            for refused in results:
                if not isinstance(refused, StreamDeleted):
                    raise ContractBroken(f"{stream}: three appends answered {results}")
                check_refusal(predicted, refused, f"identical appends to {stream}")
            return
        if any(isinstance(r, BaseException) for r in results):
            raise ContractBroken(f"{stream}: three identical appends answered {results}")
        if len({(r.version, r.position) for r in results}) != 1 or sorted(
            r.replayed for r in results
        ) != [False, True, True]:
            raise ContractBroken(f"{stream}: three identical appends answered {results}")
        first = next(r for r in results if not r.replayed)
        self.model.record(stream, events, first)
