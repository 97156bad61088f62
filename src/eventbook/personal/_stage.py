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
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from eventbook._errors import PersonalDataError, ValidationError
from eventbook._store.types import NewEvent, RecordedEvent
from eventbook.personal._cipher import open_sealed, seal
from eventbook.personal._envelope import ENVELOPE, FORGOTTEN, Path, put_values, split_path
from eventbook.personal._keys import Keyring
from eventbook.personal._marking import Marks, marks_of
from eventbook.personal._opened import OpenedEvents
from eventbook.personal._states import StreamSubjects, open_state, seal_state

OPENED_VALUES = 10_000
"""Events a stage keeps opened (see `_opened`), the oldest subjects' dropped first."""

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
        self._opened = OpenedEvents(opened_values)
        self._stream_subjects = StreamSubjects()
        self._parsed_paths: dict[tuple[str, ...], tuple[list[Path], tuple[str, ...] | None]] = {}
        named = events.items() if isinstance(events, Mapping) else ((c.__name__, c) for c in events)
        self._marks: dict[str, Marks] = {}
        for name, cls in named:
            marks = marks_of(cls)
            if marks:
                self._marks[name] = marks

    @property
    def marked_types(self) -> frozenset[str]:
        return frozenset(self._marks)

    @property
    def opened_count(self) -> int:
        """How many events the stage keeps opened now."""
        return self._opened.count

    async def forget(self, subject: str) -> bool:
        """Destroy `subject`'s key (see `Keyring.forget`) and drop the events kept opened
        with it."""
        self._opened.drop(subject)
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
        # Kept lean: every read of every event passes here (a replay decodes thousands),
        # and on SQLite opening the values weighs as much as the read itself.
        wanted = self._note_subjects(events)
        if not wanted:
            return events
        # One batch of key lookups for the page (cached keys: no await reaches the store).
        keys = await self.keyring.for_reading(wanted)
        live = self._opened.for_keys(keys)
        kept = 0
        replace = msgspec.structs.replace
        opened = []
        for event in events:
            data = event.data
            entries = data.get(ENVELOPE)
            if entries is None:
                opened.append(event)
                continue
            known = live.get(entries[0]["subject"]) if len(entries) == 1 else None
            if known is None:  # forgotten, several subjects, or nothing kept
                opened.append(replace(event, data=self._open(event, entries, keys)))
                continue
            sealed = entries[0]["sealed"]
            hit = known.get(sealed)
            if hit is None or hit[0] != event.id.int:  # the same sealing of this event
                hit = (event.id.int, self._open(event, entries, keys))
                known[sealed] = hit
                kept += 1
            opened.append(replace(event, data=hit[1]))
        if kept:
            self._opened.added(kept)
        return opened

    def _open(
        self, event: RecordedEvent, entries: list[dict[str, Any]], keys: dict[str, AESGCM | None]
    ) -> dict[str, Any]:
        """The event's data with its personal values back (placeholders if forgotten)."""
        data = dict(event.data)
        del data[ENVELOPE]
        bound = event.id.bytes
        for entry in entries:
            subject = entry["subject"]
            stored = entry["paths"]
            paths, top_level = self._parsed_paths.get(tuple(stored)) or self._parse(stored)
            key = keys[subject]
            if key is None:
                values: list[Any] = [FORGOTTEN] * len(paths)
            else:
                values = _decode_values(open_sealed(key, entry["sealed"], bound, subject))
            if len(values) != len(paths):
                raise PersonalDataError(
                    f"{event.type} {event.id}: sealed values do not fit their paths"
                )
            if top_level is None:
                put_values(data, paths, values)
            else:  # item by item: dict.update(zip(...)) costs twice as much here
                for index, name in enumerate(top_level):
                    data[name] = values[index]
        return data

    def _note_subjects(self, events: list[RecordedEvent]) -> set[str]:
        """The subjects whose personal data `events` hold, noted per stream (for sealing
        snapshots)."""
        if not events:
            return set()
        stream = events[0].stream
        wanted: set[str] = set()
        add = wanted.add
        one_stream = True  # a repository's load: no need to pair them up
        for event in events:
            if event.stream != stream:
                one_stream = False
            entries = event.data.get(ENVELOPE)
            if entries is not None:
                for entry in entries:
                    add(entry["subject"])
        if one_stream:
            self._stream_subjects.saw(stream, wanted)
            return wanted
        by_stream: dict[str, set[str]] = {}
        for event in events:
            whose = by_stream.setdefault(event.stream, set())
            for entry in event.data.get(ENVELOPE, ()):
                whose.add(entry["subject"])
        for name, whose in by_stream.items():
            self._stream_subjects.saw(name, whose)
        return wanted

    def _parse(self, stored: list[str]) -> tuple[list[Path], tuple[str, ...] | None]:
        """The paths of an envelope entry, parsed once per distinct list (events of a type
        share theirs); with the plain keys too when none is nested."""
        key = tuple(stored)
        if len(self._parsed_paths) > 1000:  # bound it against odd data
            self._parsed_paths.clear()
        paths = [split_path(p) for p in stored]
        top_level = key if all(len(p) == 1 for p in paths) else None
        found = self._parsed_paths[key] = (paths, top_level)
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
