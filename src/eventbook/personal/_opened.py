"""Personal values a stage decrypted lately, so that reading the same events again (a
repository loading an aggregate per command, say) skips AES-GCM.

An entry is keyed by (event id, sealed text): with the subject's key, exactly what the
decryption takes in, so a hit gives what decrypting would. An envelope copied into
another event, or under another subject, misses and fails to decrypt, as it should.

Entries sit per subject beside the key object that opened them, and are served only
while the keyring hands out that same object: when the keyring learns of a forget (at
once in this process, within its cache time from another one) or fetches the key again,
they stop being served, and the forgotten subject's are dropped as soon as a read sees
it. They hold no more than the keyring's cached key could decrypt. Bounded by a count of
entries (the oldest subjects dropped first); a value larger than `LARGEST` is not kept.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

LARGEST = 1024
"""Plaintext bytes of one entry at most (a subject's values in one event) to keep it."""

Entries = dict[tuple[bytes, str], list[Any]]
"""(event id bytes, sealed text) -> the values it opens to."""


class OpenedValues:
    """The bounded cache of opened values, by subject."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.count = 0
        """Entries kept now."""
        self._by_subject: dict[str, tuple[AESGCM, Entries]] = {}

    def for_keys(self, keys: dict[str, AESGCM | None]) -> dict[str, Entries]:
        """The entries to read and fill for each subject that has its key; the entries of
        a forgotten subject are dropped, and those opened with another key object are
        started afresh."""
        live: dict[str, Entries] = {}
        for subject, key in keys.items():
            found = self._by_subject.get(subject)
            if found is not None and found[0] is key:
                live[subject] = found[1]
                continue
            if found is not None:
                self.drop(subject)
            if key is not None:
                entries: Entries = {}
                self._by_subject[subject] = (key, entries)
                live[subject] = entries
        return live

    def added(self, count: int) -> None:
        """Count entries just put into the dicts `for_keys` gave; trim to the bound."""
        self.count += count
        while self.count > self.size and self._by_subject:
            self.drop(next(iter(self._by_subject)))  # the subject kept longest

    def drop(self, subject: str) -> None:
        found = self._by_subject.pop(subject, None)
        if found is not None:
            self.count -= len(found[1])
            found[1].clear()  # a reader may still hold the dict from `for_keys`
