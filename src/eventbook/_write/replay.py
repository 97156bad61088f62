"""Replay records straight into typed events: one msgspec call per run of one type.

`EventRegistry.deserialise` decodes stored events that arrive as `RecordedEvent`s, their
data already parsed into dicts, then converts the dicts into typed events. A replay
(`EventStore.replay_pages`) hands out `ReplayRecord`s instead, their data still encoded:
the data of a run of events of one type is joined into one JSON array and decoded with
a decoder typed for that class, so no dict is built and nothing walks the values twice.

It is only a faster way to the same result: a record it cannot take (a type without a
class or at an older schema version, a class with its own decoder or with a type that
decodes differently from JSON than from a dict, data that does not fit) makes it give
up on the batch, and the caller reads it through the full pipeline instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import msgspec

from eventbook._store.types import ReplayRecord

if TYPE_CHECKING:
    from eventbook._write.messages import EventType

_type = attrgetter("type")
_data = attrgetter("data")

Decode = Callable[[bytes], list[Any]]


class ReplayDecoders:
    """A typed JSON decoder per registered event type, made when first needed."""

    def __init__(self, by_name: Mapping[str, EventType]) -> None:
        self._by_name = by_name
        self._decoders: dict[str, Decode | None] = {}
        self._every: tuple[int, bool] = (0, True)  # (types checked, all decode straight)

    def every_type_decodes(self) -> bool:
        """Whether every registered type decodes straight. When one does not, a replay of a
        stream holding it would be read twice (as records, then in full), so a caller reads
        in full from the start instead. Types are only ever added: checked again when one is."""
        checked, every = self._every
        if checked != len(self._by_name):
            names = list(self._by_name.items())
            every = all(self._decoder(name, entry) is not None for name, entry in names)
            self._every = (len(names), every)
        return every

    def decode(self, records: list[ReplayRecord]) -> list[Any] | None:
        """The typed events of `records`, in order; None if one of them needs the full
        pipeline (then none of them is decoded here)."""
        typed: list[Any] = []
        for name, group in itertools.groupby(records, key=_type):
            entry = self._by_name.get(name)
            decode = None if entry is None else self._decoder(name, entry)
            if entry is None or decode is None:
                return None
            run = list(group)
            try:  # a run of one type at its current schema version (upcasters never apply)
                if {record.metadata.schema_version for record in run} != {entry.version}:
                    return None
            except TypeError:  # an unhashable schema version: not the current one
                return None
            try:
                typed += decode(b"[" + b",".join(map(_data, run)) + b"]")
            except (msgspec.ValidationError, msgspec.DecodeError, TypeError, ValueError):
                return None  # the full pipeline says which event does not fit, and how
        return typed

    def _decoder(self, name: str, entry: EventType) -> Decode | None:
        if name not in self._decoders:
            plain = entry.decode_many is not None and _decodes_alike(entry.cls)
            self._decoders[name] = (
                msgspec.json.Decoder(list[entry.cls]).decode  # type: ignore[name-defined]
                if plain
                else None
            )
        return self._decoders[name]


def _decodes_alike(cls: type[Any]) -> bool:
    """Whether JSON decoded straight into `cls` gives what decoding it into plain values
    and converting those gives (`msgspec.convert`, the full pipeline's way).

    Two kinds of field differ: a `Decimal` from a JSON number (straight: its exact text,
    converted: the float's), and a dict with keys that are not strings (straight: the
    keys parsed, converted: refused). Classes holding either take the full pipeline.
    """
    seen: set[int] = set()
    pending: list[Any] = [msgspec.inspect.type_info(cls)]
    while pending:
        info = pending.pop()
        if id(info) in seen:
            continue
        seen.add(id(info))
        if isinstance(info, msgspec.inspect.DecimalType):
            return False
        if isinstance(info, msgspec.inspect.DictType) and not isinstance(
            info.key_type, msgspec.inspect.StrType
        ):
            return False
        pending += _inner(info)
    return True


def _inner(info: Any) -> list[Any]:
    """The type infos directly inside `info` (fields, items, keys, union members)."""
    inner: list[Any] = []
    for field in getattr(info, "fields", ()):
        inner.append(field.type)
    for attribute in ("item_type", "key_type", "value_type", "type"):
        value = getattr(info, attribute, None)
        if isinstance(value, msgspec.inspect.Type):
            inner.append(value)
    for attribute in ("types", "item_types"):
        inner += getattr(info, attribute, ())
    return inner
