"""Telling a retried append's own batch, still being applied, from a reuse of stored ids.

An append refused because one of its id markers exists looks its ids up (`_replay` in
`store`). The server applies an atomic batch message by message and names only the first
conflicting marker's sequence, so a replica part-way through the batch that stored these
very events can answer for some of its markers and not yet for the others. Those found
then sit where one copy of the batch puts them; ids reused from other appends do not.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventbook._store.types import EncodedBatch, RecordedEvent

REPLAY_PAUSES = (0.0, 0.02, 0.1, 0.3)
"""Pauses before looking the ids up again while only some are found, in their places: a
batch still being applied shows them all soon; a client that reuses some ids in the same
places gets its DuplicateEventError after these."""


def partly_seen_copy(batch: EncodedBatch, stored: Sequence[RecordedEvent]) -> bool:
    """Whether `stored` (the stored events with the batch's ids) are some, not all, of one
    stored copy of `batch`: in its stream, at consecutive versions and positions."""
    if not stored or len(stored) >= len(batch.events):
        return False
    index = {event.id: number for number, event in enumerate(batch.events)}
    if any(e.id not in index or e.stream != batch.stream for e in stored):
        return False
    offsets = {(e.version - index[e.id], e.position.minor - index[e.id]) for e in stored}
    return len(offsets) == 1
