"""The pipeline stage that encrypts personal fields on the way in and back out.

Writing: each marked value is taken out of the event's data, and the values of one
subject are sealed together (one AES-GCM call per subject and event, bound to the event
id) into the data's `$personal` list, beside the subject and the paths they came from
(see `_envelope`). Everything else stays plain JSON. Reading (`_opening`): the values
are put back; for a forgotten subject each path gets `FORGOTTEN` instead, so readers
never fail on forgotten data. Upcasters run after this stage, so they see decrypted data
or the placeholder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from eventbook._errors import ValidationError
from eventbook._store.types import NewEvent, RecordedEvent
from eventbook.personal._cipher import seal
from eventbook.personal._envelope import ENVELOPE, Path, join_paths
from eventbook.personal._envelope import subjects as subjects_of
from eventbook.personal._keys import Keyring
from eventbook.personal._marking import Marks, marks_of
from eventbook.personal._opening import Opener
from eventbook.personal._states import StreamSubjects, open_state, seal_state

OPENED_VALUES = 10_000
"""Events a stage keeps opened (see `_opened`), the oldest subjects' dropped first."""

_Taken = tuple[str, str, list[Any]]
"""(subject, the paths of its values as stored, the values taken out of the data)."""

_Marked = tuple[tuple[str, tuple[Path, ...], str], ...]
"""Per subject field of an event type: (the field, the paths it covers, them as stored)."""

_pack = msgspec.msgpack.encode


class PersonalDataStage:
    """A `PipelineStage` for `EventRegistry(stages=[...])` that encrypts marked fields.

    `events` are the event classes (or a mapping of stable name to class, when names
    differ from class names); only those with `PersonalData` marks are touched.
    """

    def __init__(
        self,
        keyring: Keyring,
        events: Iterable[type[Any]] | Mapping[str, type[Any]],
        *,
        opened_values: int = OPENED_VALUES,
    ) -> None:
        if (
            isinstance(opened_values, bool)
            or not isinstance(opened_values, int)
            or opened_values < 0
        ):
            raise ValidationError("opened_values is a count of events, 0 or more")
        self.keyring = keyring
        self._opener = Opener(opened_values)
        self._stream_subjects = StreamSubjects()
        named = events.items() if isinstance(events, Mapping) else ((c.__name__, c) for c in events)
        self._marks: dict[str, _Marked] = {}
        for name, cls in named:
            marks = marks_of(cls)
            if marks:
                self._marks[name] = _stored(marks)

    @property
    def marked_types(self) -> frozenset[str]:
        return frozenset(self._marks)

    @property
    def opened_count(self) -> int:
        """How many events the stage keeps opened now."""
        return self._opener.kept.count

    async def forget(self, subject: str) -> bool:
        """Destroy `subject`'s key (see `Keyring.forget`) and drop the events kept opened
        with it."""
        self._opener.kept.drop(subject)
        return await self.keyring.forget(subject)

    async def seal_state(self, stream: str, state: dict[str, Any]) -> dict[str, Any]:
        """A snapshot state sealed for the subjects of `stream` (see `_states`)."""
        return await seal_state(self.keyring, self._stream_subjects, stream, state)

    async def open_state(self, stream: str, state: dict[str, Any]) -> dict[str, Any] | None:
        """A sealed snapshot state opened; None once one of its subjects is forgotten."""
        return await open_state(self.keyring, self._stream_subjects, stream, state)

    async def encode(self, stream: str, events: list[NewEvent]) -> list[NewEvent]:
        plans: list[tuple[dict[str, Any], list[_Taken]] | None] = []
        self._stream_subjects.saw(stream, ())
        subjects: set[str] = set()
        for event in events:
            marks = self._marks.get(event.type)
            if marks is None:
                plans.append(None)
                continue
            if ENVELOPE in event.data:
                raise ValidationError(f"{event.type} data already holds {ENVELOPE!r}")
            data = dict(event.data)
            taken = [
                (s, stored, _take(data, paths, event.type))
                for s, paths, stored in _subjects(marks, data, event.type)
            ]
            subjects.update(s for s, _, _ in taken)
            self._stream_subjects.saw(stream, (s for s, _, _ in taken))
            plans.append((data, taken))
        if not subjects:
            return events
        keys = await self.keyring.for_writing(subjects)
        sealed_events = []
        for event, plan in zip(events, plans, strict=True):
            if plan is None:
                sealed_events.append(event)
                continue
            data, taken = plan
            bound = event.id.bytes
            data[ENVELOPE] = [
                part
                for s, paths, values in taken
                for part in (s, paths, seal(keys[s], _pack(values), bound))
            ]
            sealed_events.append(NewEvent(event.type, data, event.metadata, event.id))
        return sealed_events

    async def decode(self, events: list[RecordedEvent]) -> list[RecordedEvent]:
        envelopes = [event.data.get(ENVELOPE) for event in events]
        wanted = self._note_subjects(events, envelopes)
        if not wanted:
            return events
        # One batch of key lookups for the page (cached keys: no await reaches the store).
        return self._opener.open(events, envelopes, await self.keyring.for_reading(wanted))

    def _note_subjects(
        self, events: list[RecordedEvent], envelopes: list[list[Any] | None]
    ) -> set[str]:
        """The subjects whose personal data `events` hold, noted per stream (for sealing
        snapshots)."""
        wanted: set[str] = set()
        add = wanted.add
        for envelope in envelopes:
            if envelope is not None:
                if len(envelope) == 3 and envelope[0].__class__ is str:
                    add(envelope[0])  # the usual case: one subject
                else:
                    wanted.update(subjects_of(envelope))
        streams = {event.stream for event in events}
        if len(streams) == 1:  # a repository's load: no need to pair them up
            self._stream_subjects.saw(streams.pop(), wanted)
            return wanted
        by_stream: dict[str, set[str]] = {stream: set() for stream in streams}
        for event, envelope in zip(events, envelopes, strict=True):
            if envelope is not None:
                by_stream[event.stream].update(subjects_of(envelope))
        for name, whose in by_stream.items():
            self._stream_subjects.saw(name, whose)
        return wanted


def _stored(marks: Marks) -> _Marked:
    return tuple((field, paths, join_paths(paths)) for field, paths in marks.by_subject)


def _subjects(
    marks: _Marked, data: dict[str, Any], type_name: str
) -> Iterable[tuple[str, tuple[Path, ...], str]]:
    for field, paths, stored in marks:
        subject = data.get(field)
        if not isinstance(subject, str) or not subject:
            raise ValidationError(
                f"{type_name}.{field} names the data subject: it must be a non-empty str"
            )
        yield subject, paths, stored


def _take(data: dict[str, Any], paths: tuple[Path, ...], type_name: str) -> list[Any]:
    """Remove the values at `paths` from `data` (copying the nested dicts on the way)."""
    values = []
    for path in paths:
        holder = data
        for key in path[:-1]:
            inner = holder.get(key)
            if not isinstance(inner, dict):
                holder = {}
                break
            holder[key] = holder = dict(inner)
        values.append(holder.pop(path[-1], None))
    return values
