"""Telling a retried append's own batch, being applied, from a reuse of stored ids.

An append refused because one of its id markers exists, or is still being committed
(error 10164: the leader refuses a batch while another one writing the same subject is
in flight), looks its ids up at the leader (`_replay` in `store`), one request per id. The
leader applies a batch whole before it answers a read, but it can apply the batch
between two of those requests: then some ids are found and the ones asked first are not.
Those found then sit where one copy of the batch puts them, stored by an append of as
many events; ids reused from other appends do not.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventbook._store.types import EncodedBatch, RecordedEvent

REPLAY_PAUSES = (0.0, 0.02, 0.1, 0.3)
"""Pauses before looking the ids up again while only some are found, in their places: a
batch the leader has applied shows them all at once; a client that reuses some ids in the same
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
