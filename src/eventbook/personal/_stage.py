"""The pipeline stage that encrypts personal fields on the way in and back out.

Writing: each marked value is taken out of the event's data, and the values of one
subject are sealed together (one AES-GCM call per subject and event, bound to the event
id) into the data's `$personal` list, beside the paths they came from. Everything else
stays plain JSON. Reading: the values are put back; for a forgotten subject each path
gets `FORGOTTEN` instead, so readers never fail on forgotten data. Upcasters run after
this stage, so they see decrypted data or the placeholder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from eventbook._errors import PersonalDataError, ValidationError
from eventbook._store.types import NewEvent, RecordedEvent
from eventbook.personal._cipher import open_sealed, seal
from eventbook.personal._envelope import ENVELOPE, FORGOTTEN, Path, put_values, split_path
from eventbook.personal._keys import Keyring
from eventbook.personal._marking import Marks, marks_of
from eventbook.personal._states import StreamSubjects, open_state, seal_state

_Taken = tuple[str, tuple[Path, ...], list[Any]]
"""(subject, the paths of its values, the values taken out of the data)."""

_encode = msgspec.json.encode
_decode_values = msgspec.json.Decoder(list[Any]).decode


class PersonalDataStage:
    """A `PipelineStage` for `EventRegistry(stages=[...])` that encrypts marked fields.

    `events` are the event classes (or a mapping of stable name to class, when names
    differ from class names); only those with `PersonalData` marks are touched.
    """

    def __init__(
        self, keyring: Keyring, events: Iterable[type[Any]] | Mapping[str, type[Any]]
    ) -> None:
        self.keyring = keyring
        self._stream_subjects = StreamSubjects()
        self._parsed_paths: dict[tuple[str, ...], list[Path]] = {}
        named = events.items() if isinstance(events, Mapping) else ((c.__name__, c) for c in events)
        self._marks: dict[str, Marks] = {}
        for name, cls in named:
            marks = marks_of(cls)
            if marks:
                self._marks[name] = marks

    @property
    def marked_types(self) -> frozenset[str]:
        return frozenset(self._marks)

    async def forget(self, subject: str) -> bool:
        """Destroy `subject`'s key (see `Keyring.forget`)."""
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
                (s, paths, _take(data, paths, event.type))
                for s, paths in _subjects(marks, data, event.type)
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
                {
                    "subject": s,
                    "paths": ["/".join(p) for p in paths],
                    "sealed": seal(keys[s], _encode(values), bound),
                }
                for s, paths, values in taken
            ]
            sealed_events.append(NewEvent(event.type, data, event.metadata, event.id))
        return sealed_events

    async def decode(self, events: list[RecordedEvent]) -> list[RecordedEvent]:
        # Kept lean: every read of every event passes here (a replay decodes thousands).
        subjects: dict[str, set[str]] = {}  # stream -> the subjects seen in it
        for event in events:
            whose = subjects.get(event.stream)
            if whose is None:
                whose = subjects[event.stream] = set()
            sealed = event.data.get(ENVELOPE)
            if sealed is not None:
                for entry in sealed:
                    whose.add(entry["subject"])
        for stream, whose in subjects.items():
            self._stream_subjects.saw(stream, whose)
        wanted = set().union(*subjects.values())
        if not wanted:
            return events
        keys = await self.keyring.for_reading(wanted)
        opened = []
        replace = msgspec.structs.replace
        for event in events:
            sealed = event.data.get(ENVELOPE)
            if sealed is None:
                opened.append(event)
                continue
            data = dict(event.data)
            del data[ENVELOPE]
            for entry in sealed:
                subject, paths = entry["subject"], self._paths(entry["paths"])
                key = keys[subject]
                if key is None:
                    values: list[Any] = [FORGOTTEN] * len(paths)
                else:
                    plain = open_sealed(key, entry["sealed"], event.id.bytes, subject)
                    values = _decode_values(plain)
                    if len(values) != len(paths):
                        raise PersonalDataError(
                            f"{event.type} {event.id}: sealed values do not fit their paths"
                        )
                put_values(data, paths, values)
            opened.append(replace(event, data=data))
        return opened

    def _paths(self, stored: list[str]) -> list[Path]:
        """The paths of an envelope entry, parsed once per distinct list (events of a type
        share theirs)."""
        key = tuple(stored)
        found = self._parsed_paths.get(key)
        if found is None:
            if len(self._parsed_paths) > 1000:  # bound it against odd data
                self._parsed_paths.clear()
            found = self._parsed_paths[key] = [split_path(p) for p in stored]
        return found


def _subjects(
    marks: Marks, data: dict[str, Any], type_name: str
) -> Iterable[tuple[str, tuple[Path, ...]]]:
    for field, paths in marks.by_subject:
        subject = data.get(field)
        if not isinstance(subject, str) or not subject:
            raise ValidationError(
                f"{type_name}.{field} names the data subject: it must be a non-empty str"
            )
        yield subject, paths


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
