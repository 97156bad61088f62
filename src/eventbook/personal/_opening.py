"""Reading sealed events back: their personal values put back into their data, or the
placeholder for a forgotten subject, or what was kept from opening them before.

Kept lean: every read of every marked event passes here (a replay decodes thousands),
and on SQLite opening the values weighs about as much as reading the event. An event
with one subject (the usual case) takes the inline path; events with several subjects
take `_open_any`.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from typing import Any

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from eventbook._errors import PersonalDataError
from eventbook._store.types import RecordedEvent
from eventbook.personal._cipher import NONCE_BYTES
from eventbook.personal._envelope import ENVELOPE, FORGOTTEN, Path, entries, put_values, split_paths
from eventbook.personal._opened import OpenedEvents

Parsed = tuple[list[Path], tuple[str, ...] | None]
"""An entry's paths, and its keys too when none is nested (the usual case)."""

_Unpack = Callable[[bytes], list[Any]]
_unpack_values: _Unpack = msgspec.msgpack.Decoder(list[Any]).decode
_decode_json_values: _Unpack = msgspec.json.Decoder(list[Any]).decode
_replace = msgspec.structs.replace
_a2b = binascii.a2b_base64
_UNREADABLE = (InvalidTag, binascii.Error, ValueError, msgspec.DecodeError)


class Opener:
    """Opens the sealed events of a page with the keys of their subjects."""

    def __init__(self, opened_values: int) -> None:
        self.kept = OpenedEvents(opened_values)
        self._parsed: dict[str | tuple[str, ...], Parsed] = {}

    def open(
        self,
        events: list[RecordedEvent],
        envelopes: list[list[Any] | None],
        keys: dict[str, AESGCM | None],
    ) -> list[RecordedEvent]:
        """`events` opened; `envelopes` holds each one's `$personal` list (or None)."""
        live = self.kept.for_keys(keys)
        parsed_paths = self._parsed
        a2b = _a2b
        replace = _replace
        nonce_bytes = NONCE_BYTES
        kept = 0
        opened: list[RecordedEvent] = []
        append = opened.append
        for event, envelope in zip(events, envelopes, strict=True):
            if envelope is None:
                append(event)
                continue
            if len(envelope) == 3 and envelope[0].__class__ is str:
                subject, stored, sealed = envelope
                unpack = _unpack_values
            elif len(envelope) == 1 and envelope[0].__class__ is dict:
                subject, stored, sealed, unpack = _first_format(envelope[0])
            else:  # several subjects
                append(replace(event, data=self._open_any(event, envelope, keys)))
                continue
            ident = event.id.int
            known = live.get(subject)
            if known is not None:  # the same sealing of this event, opened before
                hit = known.get(ident)
                if hit is not None and hit[0] == sealed:
                    append(replace(event, data=hit[1]))
                    continue
            paths, names = parsed_paths.get(stored) or self._parse(stored)
            key = keys[subject]
            if key is None:
                values: list[Any] = [FORGOTTEN] * len(paths)
            else:
                try:
                    raw = a2b(sealed)
                    # Bound to the event id's 16 bytes (UUID.bytes, without its property).
                    plain = key.decrypt(raw[:nonce_bytes], raw[nonce_bytes:], ident.to_bytes(16))
                    values = unpack(plain)
                except _UNREADABLE:
                    raise _altered(subject) from None
            data = dict(event.data)
            del data[ENVELOPE]
            if names is not None and len(values) == len(names):
                for index, name in enumerate(names):  # faster than zip() or update() here
                    data[name] = values[index]
            else:
                _put(event, data, paths, values)
            if known is not None:
                known[ident] = (sealed, data)
                kept += 1
            append(replace(event, data=data))
        if kept:
            self.kept.added(kept)
        return opened

    def _open_any(
        self, event: RecordedEvent, envelope: list[Any], keys: dict[str, AESGCM | None]
    ) -> dict[str, Any]:
        """The data of an event in the first envelope format or with several subjects."""
        try:
            found = entries(envelope)
        except (KeyError, TypeError, ValueError):
            raise PersonalDataError(
                f"{event.type} {event.id}: its {ENVELOPE} envelope has neither known shape"
            ) from None
        data = dict(event.data)
        del data[ENVELOPE]
        bound = event.id.bytes
        for subject, stored, sealed, first_format in found:
            paths = (self._parsed.get(_hashable(stored)) or self._parse(stored))[0]
            key = keys[subject]
            if key is None:
                values: list[Any] = [FORGOTTEN] * len(paths)
                _put(event, data, paths, values)
                continue
            try:
                raw = _a2b(sealed)
                plain = key.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], bound)
            except (*_UNREADABLE, TypeError):
                raise _altered(subject) from None
            decode = _decode_json_values if first_format else _unpack_values
            _put(event, data, paths, decode(plain))
        return data

    def _parse(self, stored: str | list[str]) -> Parsed:
        """An entry's paths, parsed once per distinct text (events of a type share it)."""
        if len(self._parsed) > 1000:  # bound it against odd data
            self._parsed.clear()
        paths = split_paths(stored)
        names = tuple(p[0] for p in paths) if all(len(p) == 1 for p in paths) else None
        found = self._parsed[_hashable(stored)] = (paths, names)
        return found


def _first_format(entry: dict[str, Any]) -> tuple[str, tuple[str, ...], str, _Unpack]:
    """An entry of the first envelope format, whose values are a JSON list."""
    return entry["subject"], tuple(entry["paths"]), entry["sealed"], _decode_json_values


def _hashable(stored: str | list[str]) -> str | tuple[str, ...]:
    return stored if isinstance(stored, str) else tuple(stored)


def _put(event: RecordedEvent, data: dict[str, Any], paths: list[Path], values: list[Any]) -> None:
    if len(values) != len(paths):
        raise PersonalDataError(f"{event.type} {event.id}: sealed values do not fit their paths")
    put_values(data, paths, values)


def _altered(subject: str) -> PersonalDataError:
    return PersonalDataError(
        f"personal data of {subject!r} does not decrypt with its key: it was altered"
    )
