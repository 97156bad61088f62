"""Snapshot states that may hold personal data, sealed for every subject of their stream.

A state is encrypted once under a fresh state key; that key is sealed under the data
key of each subject whose personal data the stream's events carry. Forgetting any of
them makes the snapshot unreadable, and the repository replays the stream instead,
which reads the forgotten fields as placeholders.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from typing import Any

import msgspec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from eventbook._errors import PersonalDataError
from eventbook.personal._cipher import new_data_key, open_sealed, seal
from eventbook.personal._keys import Keyring

SEALED_STATE = "$personal_state"
STREAMS_REMEMBERED = 10_000
"""Streams whose subjects are remembered (least recently used forgotten first)."""


class StreamSubjects:
    """Which subjects' personal data each recently read or written stream holds."""

    def __init__(self, size: int = STREAMS_REMEMBERED) -> None:
        self._size = size
        self._by_stream: collections.OrderedDict[str, set[str]] = collections.OrderedDict()

    def saw(self, stream: str, subjects: Iterable[str]) -> None:
        known = self._by_stream.setdefault(stream, set())
        known.update(subjects)
        self._by_stream.move_to_end(stream)
        while len(self._by_stream) > self._size:
            self._by_stream.popitem(last=False)

    def of(self, stream: str) -> set[str] | None:
        """The stream's subjects, or None if it was not read or written lately."""
        return self._by_stream.get(stream)


async def seal_state(
    keyring: Keyring, subjects: StreamSubjects, stream: str, state: dict[str, Any]
) -> dict[str, Any]:
    whose = subjects.of(stream)
    if whose is None:
        raise PersonalDataError(
            f"cannot tell whose personal data a snapshot of {stream!r} holds: its events"
            " were not read through this stage lately"
        )
    if not whose:
        return state
    keys = await keyring.for_writing(whose)
    state_key = new_data_key()
    bound = stream.encode()
    return {
        SEALED_STATE: {
            "keys": {s: seal(keys[s], state_key, bound) for s in sorted(whose)},
            "sealed": seal(AESGCM(state_key), msgspec.json.encode(state), bound),
        }
    }


async def open_state(
    keyring: Keyring, subjects: StreamSubjects, stream: str, state: dict[str, Any]
) -> dict[str, Any] | None:
    sealed = state.get(SEALED_STATE)
    if sealed is None:
        subjects.saw(stream, ())
        return state
    whose = sorted(sealed["keys"])
    subjects.saw(stream, whose)
    keys = await keyring.for_reading(whose)
    if any(key is None for key in keys.values()):
        return None  # a subject was forgotten: the events tell the rest
    bound = stream.encode()
    subject = whose[0]
    key = keys[subject]
    assert key is not None  # checked above
    state_key = open_sealed(key, sealed["keys"][subject], bound, subject)
    opened: dict[str, Any] = msgspec.json.decode(
        open_sealed(AESGCM(state_key), sealed["sealed"], bound, stream)
    )
    return opened
