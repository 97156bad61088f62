"""Reading one stream's subject: its head, the sequence of a version, its events.

A stream's subject holds its events in version order, with a fence (see `codec`) after
the event a deletion was laid at; readers skip fences. Events below a truncation are
purged, events of a soft-deleted history stay: the stream's marks say which version a
reader starts at.
"""

from __future__ import annotations

from typing import NamedTuple

from nats.aio.msg import Msg

from eventbook._backends.nats import codec
from eventbook._backends.nats.direct import DirectReader, sequence_of
from eventbook._store.lifecycle import StreamMarks
from eventbook._store.types import RecordedEvent


class SubjectHead(NamedTuple):
    """The last message on a subject: its sequence and version, and the fence it is."""

    sequence: int
    version: int
    fence: codec.Fence | None

    def marks(self) -> StreamMarks | None:
        """The flags an append checks (`check_writable`): those of a fence on top."""
        return None if self.fence is None else self.fence.marks()


EMPTY = SubjectHead(0, 0, None)


async def direct_head(reader: DirectReader, subject: str) -> SubjectHead:
    return _head(await reader.last(subject))


async def leader_head(reader: DirectReader, subject: str) -> SubjectHead:
    """The same, asked of the stream's leader."""
    return _head(await reader.leader.last(subject))


def _head(last: Msg | None) -> SubjectHead:
    if last is None:
        return EMPTY
    return SubjectHead(
        sequence_of(last), codec.version_of(last), codec.fence_in(last.data, last.headers)
    )


async def last_marks(
    reader: DirectReader, subject: str, *, leader: bool
) -> tuple[int, StreamMarks | None]:
    """The sequence and value of the newest marks on a marks subject; (0, None) if none."""
    last = await (reader.leader if leader else reader).last(subject)
    return (0, None) if last is None else (sequence_of(last), codec.marks_in(last.data))


async def sequence_of_version(reader: DirectReader, subject: str, version: int) -> int | None:
    """The stream sequence of `version` on `subject`, by binary search (ranks grow with
    sequences, `codec.rank`); None when the stream is not that long."""
    last = await reader.last(subject)
    if last is None or codec.version_of(last) < version:
        return None
    wanted = 2 * version
    low, high = 1, sequence_of(last)  # the answer lies in [low, high]
    while low < high:
        middle = (low + high) // 2
        found = await reader.first_from(subject, middle)
        if found is None:  # purged meanwhile
            return None
        found_rank = codec.rank(found)
        if found_rank == wanted:
            return sequence_of(found)
        if found_rank < wanted:
            low = sequence_of(found) + 1
        else:  # nothing on the subject lies in [middle, found): the answer is before
            high = middle - 1
    return low


async def events_from(
    reader: DirectReader, subject: str, sequence: int, count: int
) -> list[RecordedEvent]:
    """Up to `count` events on `subject` from `sequence` on, fences skipped: fewer only
    at the end of the subject."""
    events: list[RecordedEvent] = []
    while len(events) < count:
        wanted = count - len(events)
        messages = await reader.page(subject, sequence, wanted)
        events.extend(codec.recorded_event(m) for m in messages if not codec.is_fence(m))
        if len(messages) < wanted:
            break
        sequence = sequence_of(messages[-1]) + 1
    return events
