"""Input validation and JSON encoding shared by every backend.

Everything a caller passes to the store is checked here, before a backend sees it,
so that bad input fails the same way everywhere and writes nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from eventbook._errors import ValidationError
from eventbook._store.types import (
    NO_STREAM,
    EncodedBatch,
    EncodedEvent,
    EventFilter,
    Expected,
    ExpectedVersion,
    NewEvent,
    Position,
    RecordedEvent,
    category_of,
)

MAX_NAME_LENGTH = 200
"""Longest stream or event-type name, in characters."""

MAX_EVENT_BYTES = 1024 * 1024
"""Largest event: its data and metadata encoded as JSON, together, in bytes."""

MAX_BATCH_EVENTS = 10_000
"""Most events in one append."""

MAX_NESTING = 100
"""Deepest data, metadata or snapshot state: objects and lists inside one another, the
top object counting as level 1."""

# C0/C1 control characters and lone surrogates (which cannot be encoded as UTF-8).
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

MAX_NUMBER = 2**63 - 1
"""The largest version, position or limit: what a signed 64-bit database integer holds."""

_encode = msgspec.json.Encoder().encode

_GOOD_NAMES_KEPT = 4096
_GOOD_STREAMS: set[str] = set()
"""Stream names that passed `check_stream_name` lately (the checks depend on nothing else)."""


def check_name(what: str, name: object) -> None:
    if not isinstance(name, str):
        raise ValidationError(f"{what} must be a string, not {type(name).__name__}")
    if not name or name.isspace():
        raise ValidationError(f"{what} must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(
            f"{what} is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}"
        )
    bad = _FORBIDDEN.search(name)
    if bad is not None:
        code = ord(bad.group())
        kind = "a lone surrogate" if 0xD800 <= code <= 0xDFFF else "the control character"
        raise ValidationError(f"{what} {name[:40]!r} contains {kind} U+{code:04X}")


def check_stream_name(stream: object) -> None:
    if type(stream) is str and stream in _GOOD_STREAMS:
        return  # a command checks its stream's name up to three times: load, read, append
    check_name("stream name", stream)
    # A category filter selects streams by the part before the first '-'; a stream whose
    # category is empty or blank could never be selected, so it cannot exist.
    if isinstance(stream, str) and not category_of(stream).strip():
        raise ValidationError(
            f"stream name {stream[:40]!r} has no category: the part before its first '-'"
            " must not be empty or blank"
        )
    if type(stream) is str:
        if len(_GOOD_STREAMS) >= _GOOD_NAMES_KEPT:
            _GOOD_STREAMS.clear()
        _GOOD_STREAMS.add(stream)


def event_filter(types: Iterable[str] | None, categories: Iterable[str] | None) -> EventFilter:
    """The filter of a global read, its names checked as names are on append: a name no
    event could carry is refused rather than matched by nothing (or, on some databases,
    failing to encode)."""
    wanted = EventFilter.of(types, categories)
    for what, names in (("type filter", wanted.types), ("category filter", wanted.categories)):
        for name in sorted(names or ()):
            check_name(what, name)
    return wanted


def check_version(what: str, version: object) -> None:
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValidationError(f"{what} must be an int, not {type(version).__name__}")
    if version < 1:
        raise ValidationError(f"{what} must be 1 or more, not {version}")
    _check_bound(what, version)


def check_limit(limit: object) -> None:
    if limit is None:
        return
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError(f"limit must be a positive int or None, not {limit!r}")
    _check_bound("limit", limit)


def check_position(position: object) -> None:
    if position is not None and not isinstance(position, Position):
        raise ValidationError(
            f"after must be a Position or None, not {type(position).__name__}"
            " (use Position.parse() for a stored string)"
        )
    if position is not None:
        _check_bound("after", max(position.major, position.minor))


def _check_bound(what: str, number: int) -> None:
    # Databases keep versions and positions as signed 64-bit integers.
    if number > MAX_NUMBER:
        raise ValidationError(f"{what} must be at most {MAX_NUMBER}, not {number}")


def normalise_expected(expected: object) -> Expected:
    """Check an expected version; 0 is the same as `NO_STREAM`."""
    if isinstance(expected, ExpectedVersion):
        return expected
    if isinstance(expected, bool) or not isinstance(expected, int):
        raise ValidationError(
            f"expected must be ANY, NO_STREAM, STREAM_EXISTS or a version number, not {expected!r}"
        )
    if expected < 0:
        raise ValidationError(f"expected version must not be negative, not {expected}")
    _check_bound("expected version", expected)
    return NO_STREAM if expected == 0 else expected


def encode_object(what: str, value: object) -> bytes:
    """Encode a JSON object (a dict with string keys), or explain why it is not one."""
    if not isinstance(value, dict):
        raise ValidationError(f"{what} must be a JSON object (dict), not {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise ValidationError(f"{what} has the key {key!r}; JSON object keys are strings")
    try:
        encoded = _encode(value)
    except RecursionError:
        raise _too_deep(what) from None
    except (TypeError, ValueError, OverflowError, UnicodeEncodeError) as exc:
        raise ValidationError(f"{what} is not JSON-serialisable: {exc}") from None
    # Only JSON with more brackets than the limit can be nested beyond it, so the walk
    # through the structure is rarely made.
    if encoded.count(b"{") + encoded.count(b"[") > MAX_NESTING and _deeper_than_limit(
        msgspec.json.decode(encoded)
    ):
        raise _too_deep(what)
    # msgspec writes NaN and the infinities as null, which would read back as something
    # else; only an encoding that holds a null can hide one, so the check is rarely made.
    if b"null" in encoded:
        _refuse_non_finite(what, msgspec.to_builtins(value), "$")
    # PostgreSQL's JSONB has a single zero and reads -0.0 back as 0.0; every backend stores
    # it as 0.0 so that all of them read back the same. msgspec writes it as `-0.0`, so
    # only an encoding holding that text (perhaps inside a string) takes the slow path.
    if b"-0.0" in encoded:
        encoded = _encode(_without_negative_zero(msgspec.to_builtins(value)))
    return encoded


def _too_deep(what: str) -> ValidationError:
    return ValidationError(f"{what} is nested more than {MAX_NESTING} levels deep")


def _deeper_than_limit(value: object) -> bool:
    # Iterative, so that the check itself cannot run out of stack.
    pending: list[tuple[dict[str, Any] | list[Any], int]] = []
    if isinstance(value, dict | list):
        pending.append((value, 1))
    while pending:
        container, depth = pending.pop()
        if depth > MAX_NESTING:
            return True
        children = container.values() if isinstance(container, dict) else container
        pending.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _without_negative_zero(value: Any) -> Any:
    if isinstance(value, float):
        return 0.0 if value == 0.0 else value
    if isinstance(value, dict):
        return {key: _without_negative_zero(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_negative_zero(item) for item in value]
    return value


def _refuse_non_finite(what: str, value: object, path: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"{what} holds {value} at {path}; JSON has no NaN or infinity")
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_non_finite(what, item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _refuse_non_finite(what, item, f"{path}[{index}]")


def encode_batch(stream: str, events: Sequence[NewEvent], expected: object) -> EncodedBatch:
    """Validate an append request and encode its events."""
    check_stream_name(stream)
    checked_expected = normalise_expected(expected)
    if type(events) is not list and (  # a list needs no look at the Sequence ABC
        isinstance(events, NewEvent) or not isinstance(events, Sequence)
    ):
        raise ValidationError("events must be a sequence (list or tuple) of NewEvent")
    if not events:
        raise ValidationError("an append needs at least one event")
    if len(events) > MAX_BATCH_EVENTS:
        raise ValidationError(
            f"an append holds at most {MAX_BATCH_EVENTS} events, not {len(events)}"
        )
    if len(events) == 1:  # the usual append of a command: no ids to compare
        (only,) = events
        if not isinstance(only, NewEvent):
            raise ValidationError(f"events[0] is a {type(only).__name__}, not a NewEvent")
        return EncodedBatch(stream, checked_expected, (_encode_event(0, only),))
    encoded = []
    types: set[str] = set()  # a batch's events mostly share a type: check each name once
    for index, event in enumerate(events):
        if not isinstance(event, NewEvent):
            raise ValidationError(f"events[{index}] is a {type(event).__name__}, not a NewEvent")
        encoded.append(_encode_event(index, event, known_types=types))
    if len({event.id for event in encoded}) < len(encoded):
        _refuse_repeated_id(encoded)
    return EncodedBatch(stream, checked_expected, tuple(encoded))


def _refuse_repeated_id(events: list[EncodedEvent]) -> None:
    seen: set[UUID] = set()
    for index, event in enumerate(events):
        if event.id in seen:
            raise ValidationError(f"events[{index}] repeats the id {event.id} within the batch")
        seen.add(event.id)


def _encode_event(
    index: int,
    event: NewEvent | RecordedEvent,
    recorded_at: datetime | None = None,
    known_types: set[str] | None = None,
) -> EncodedEvent:
    """Check and encode one event; a type in `known_types` was checked already."""
    if known_types is None or event.type not in known_types:
        check_name(f"events[{index}].type", event.type)
        if known_types is not None:
            known_types.add(event.type)
    if not isinstance(event.id, UUID):
        raise ValidationError(f"events[{index}].id must be a UUID")
    data = encode_object(f"events[{index}].data", event.data)
    metadata = encode_object(f"events[{index}].metadata", event.metadata)
    size = len(data) + len(metadata)
    if size > MAX_EVENT_BYTES:
        raise ValidationError(
            f"events[{index}] ({event.type}) is {size} bytes as JSON;"
            f" the limit is {MAX_EVENT_BYTES} bytes"
        )
    return EncodedEvent(event.id, event.type, data, metadata, recorded_at)


def encode_import(events: Sequence[RecordedEvent]) -> list[EncodedBatch]:
    """Validate events to import (see `EventStore.import_events`) and group them by stream.

    Consecutive events of one stream become one batch expecting the version just before
    its first event; a stream's events must have consecutive versions across the call.
    """
    if isinstance(events, RecordedEvent) or not isinstance(events, Sequence):
        raise ValidationError("events must be a sequence (list or tuple) of RecordedEvent")
    if not events:
        raise ValidationError("an import needs at least one event")
    batches: list[EncodedBatch] = []
    run: list[EncodedEvent] = []
    run_stream, run_expected = "", 0
    next_version: dict[str, int] = {}
    seen: set[UUID] = set()
    known_types: set[str] = set()
    for index, event in enumerate(events):
        if not isinstance(event, RecordedEvent):
            kind = type(event).__name__
            raise ValidationError(f"events[{index}] is a {kind}, not a RecordedEvent")
        wanted = next_version.get(event.stream)
        if wanted is None:  # the stream's name is checked at its first event
            check_stream_name(event.stream)
        check_version(f"events[{index}].version", event.version)
        if wanted is not None and event.version != wanted:
            raise ValidationError(
                f"events[{index}] is version {event.version} of {event.stream!r};"
                f" the import gave that stream's version {wanted - 1} just before"
            )
        if not isinstance(event.recorded_at, datetime) or event.recorded_at.tzinfo is None:
            raise ValidationError(f"events[{index}].recorded_at must be a timezone-aware datetime")
        if event.id in seen:
            raise ValidationError(f"events[{index}] repeats the id {event.id} within the import")
        seen.add(event.id)
        next_version[event.stream] = event.version + 1
        encoded = _encode_event(index, event, event.recorded_at, known_types)
        if run and (event.stream != run_stream or len(run) == MAX_BATCH_EVENTS):
            batches.append(EncodedBatch(run_stream, _expected(run_expected), tuple(run)))
            run = []
        if not run:
            run_stream, run_expected = event.stream, event.version - 1
        run.append(encoded)
    batches.append(EncodedBatch(run_stream, _expected(run_expected), tuple(run)))
    return batches


def _expected(version: int) -> Expected:
    return NO_STREAM if version == 0 else version


def expected_number(expected: Expected) -> int:
    """The exact version an import batch expects (`NO_STREAM` is 0)."""
    return 0 if expected is NO_STREAM else expected if isinstance(expected, int) else -1


def import_refused(stream: str, actual: int, wanted: int) -> ValidationError:
    """The error of an import whose stream is not at the version just before its events."""
    return ValidationError(
        f"cannot import into {stream!r}: it is at version {actual}, and the imported events"
        f" start at version {wanted + 1}; nothing was imported"
    )


def decode_object(raw: bytes | str) -> dict[str, Any]:
    """Decode JSON stored by `encode_object`."""
    value: dict[str, Any] = _decode(raw)
    return value


_decode = msgspec.json.Decoder(dict[str, Any]).decode
