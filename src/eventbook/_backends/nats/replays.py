"""Telling a retried append's own batch, still being applied, from a reuse of stored ids.

An append refused because one of its id markers exists looks its ids up (`_replay` in
`store`). The server applies an atomic batch message by message and names only the first
conflicting marker's sequence, so a replica part-way through the batch that stored these
very events can answer for some of its markers and not yet for the others. Those found
then sit where one copy of the batch puts them, stored by an append of as many events;
ids reused from other appends do not.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventbook._store.types import EncodedBatch, RecordedEvent

REPLAY_PAUSES = (0.0, 0.02, 0.1, 0.3)
"""Pauses before looking the ids up again while only some are found, in their places: a
batch still being applied shows them all soon; a client that reuses some ids in the same
places gets its DuplicateEventError after these."""


Found = tuple[RecordedEvent, int]
"""A stored event with one of a batch's ids, and the number of events its append stored
(its id marker's distance to it)."""


def partly_seen_copy(batch: EncodedBatch, found: Sequence[Found]) -> bool:
    """Whether `found` are some, not all, of one stored copy of `batch`: in its stream,
    stored by an append of as many events, at consecutive versions and positions."""
    if not found or len(found) >= len(batch.events):
        return False
    index = {event.id: number for number, event in enumerate(batch.events)}
    if any(
        e.id not in index or e.stream != batch.stream or size != len(batch.events)
        for e, size in found
    ):
        return False
    offsets = {(e.version - index[e.id], e.position.minor - index[e.id]) for e, _ in found}
    return len(offsets) == 1
