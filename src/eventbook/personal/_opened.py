"""Events a stage opened lately, so that reading them again (a repository loading an
aggregate per command, say) skips AES-GCM and the rebuilding of their data.

An event is kept under its id with its sealed text (which holds a random nonce: no two
sealings give the same), and served again only for an event with the same id and the
same sealed text, opened with the same key object: the same sealing of the same event, whose
data a store never changes. An envelope copied into another event misses (another id)
and fails to decrypt, as it should. (The plain fields and paths beside the sealed text
are not authenticated, kept or not; comparing them on every read would cost about a
tenth of a SQLite load.) Only events with one subject are kept (the usual case); others
are opened on every read.

Events sit per subject beside the key object that opened them, and are served only
while the keyring hands out that same object: when the keyring learns of a forget (at
once in this process, within its cache time from another one) or fetches the key again,
they stop being served, and a forgotten subject's are dropped as soon as a read sees it.
They hold no more than the keyring's cached key could decrypt. Bounded by a count of
events, and of subjects (the oldest subjects dropped first); the opened data shares its
plain values with the stored data, so the memory held is about that of the events' data.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

Kept = tuple[str, dict[str, Any]]
"""(the sealed text of the event's envelope, its opened data)."""
Events = dict[int, Kept]
"""The event id as an int (cheaper to hash than the sealed text) -> the event kept."""


class OpenedEvents:
    """The bounded cache of opened events, by subject."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.count = 0
        """Events kept now."""
        self._by_subject: dict[str, tuple[AESGCM, Events]] = {}

    def for_keys(self, keys: dict[str, AESGCM | None]) -> dict[str, Events]:
        """The events to read and fill for each subject that has its key; those of a
        forgotten subject are dropped, and those opened with another key object are
        started afresh. Empty when nothing is to be kept."""
        live: dict[str, Events] = {}
        for subject, key in keys.items():
            found = self._by_subject.get(subject)
            if found is not None and found[0] is key:
                live[subject] = found[1]
                continue
            if found is not None:
                self.drop(subject)
            if key is not None and self.size > 0:
                events: Events = {}
                self._by_subject[subject] = (key, events)
                live[subject] = events
        self._trim()  # subjects whose events are not kept (several subjects) count too
        return live

    @property
    def subjects(self) -> int:
        return len(self._by_subject)

    def added(self, count: int) -> None:
        """Count events just put into the dicts `for_keys` gave; trim to the bound."""
        self.count += count
        self._trim()

    def _trim(self) -> None:
        while (self.count > self.size or len(self._by_subject) > self.size) and self._by_subject:
            self.drop(next(iter(self._by_subject)))  # the subject kept longest

    def drop(self, subject: str) -> None:
        found = self._by_subject.pop(subject, None)
        if found is not None:
            self.count -= len(found[1])
            found[1].clear()  # a reader may still hold the dict from `for_keys`
