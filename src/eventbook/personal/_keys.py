"""Where data keys live (`KeyStore`), and the cached, unwrapping view of them (`Keyring`).

A key store keeps one row per subject: its data key wrapped by the master key, or,
once the subject is forgotten, a tombstone with no key. The tombstone tells a forgotten
subject (read as a placeholder) apart from a key that was never stored (an error), and
refuses new personal data for the subject. An external KMS plugs in as a `KeyStore`.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Collection
from typing import Protocol

import msgspec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from eventbook._errors import DataKeyMissing, SubjectForgotten, ValidationError
from eventbook.personal._cipher import MasterKey, new_data_key


class StoredKey(msgspec.Struct, frozen=True):
    """One subject's row: its wrapped data key and the master key's fingerprint, or a
    tombstone (`wrapped` None) once forgotten."""

    wrapped: bytes | None
    master: str


class KeyStore(Protocol):
    """Durable storage of wrapped data keys, one per subject."""

    async def fetch(self, subjects: Collection[str]) -> dict[str, StoredKey]:
        """The rows of those subjects that exist (tombstones included)."""
        ...

    async def add(self, subject: str, key: StoredKey) -> StoredKey:
        """Store `key` unless the subject has a row already; return the row that stands."""
        ...

    async def forget(self, subject: str) -> bool:
        """Destroy the subject's key, leaving a tombstone. False if it had none to destroy."""
        ...

    async def close(self) -> None: ...


class MemoryKeyStore:
    """Keys in a dict, for the memory backend and tests."""

    def __init__(self) -> None:
        self._rows: dict[str, StoredKey] = {}

    async def fetch(self, subjects: Collection[str]) -> dict[str, StoredKey]:
        return {s: self._rows[s] for s in subjects if s in self._rows}

    async def add(self, subject: str, key: StoredKey) -> StoredKey:
        return self._rows.setdefault(subject, key)

    async def forget(self, subject: str) -> bool:
        row = self._rows.get(subject)
        self._rows[subject] = StoredKey(None, "" if row is None else row.master)
        return row is not None and row.wrapped is not None

    async def close(self) -> None:
        self._rows.clear()


CACHE_SIZE = 10_000
"""Unwrapped data keys kept in memory, least recently used dropped first."""
CACHE_SECONDS = 60.0
"""How long a cached key (or tombstone) is trusted: a subject forgotten by another
process reads as forgotten here within this time."""


class Keyring:
    """Data keys for encrypting and decrypting, unwrapped on demand and cached with bounds.

    Keys are never logged; `repr` shows only the master key's fingerprint.
    """

    def __init__(
        self,
        store: KeyStore,
        master: MasterKey,
        *,
        cache_size: int = CACHE_SIZE,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        if not isinstance(master, MasterKey):
            raise ValidationError("Keyring takes a MasterKey (MasterKey.from_env(), say)")
        if cache_size < 1 or cache_seconds <= 0:
            raise ValidationError("the key cache needs a size >= 1 and a time > 0")
        self.store = store
        self._master = master
        self._size = cache_size
        self._seconds = cache_seconds
        # subject -> (key, or None when forgotten; when it was loaded)
        self._cache: collections.OrderedDict[str, tuple[AESGCM | None, float]] = (
            collections.OrderedDict()
        )

    def __repr__(self) -> str:
        return f"Keyring({type(self.store).__name__}, master={self._master.fingerprint})"

    async def for_writing(self, subjects: Collection[str]) -> dict[str, AESGCM]:
        """A key per subject, made for subjects new to the store. Refuses forgotten ones."""
        found = await self._keys(subjects, create=True)
        for subject, key in found.items():
            if key is None:
                raise SubjectForgotten(subject)
        return found  # type: ignore[return-value]  # None was refused above

    async def for_reading(self, subjects: Collection[str]) -> dict[str, AESGCM | None]:
        """A key per subject, None for a forgotten one; `DataKeyMissing` for an unknown one."""
        return await self._keys(subjects, create=False)

    async def forget(self, subject: str) -> bool:
        """Destroy `subject`'s data key: its personal data reads as a placeholder from now on.

        Returns False if the subject had no key (never written, or forgotten already).
        """
        if not isinstance(subject, str) or not subject:
            raise ValidationError("forget() takes a subject id (a non-empty str)")
        destroyed = await self.store.forget(subject)
        self._cache.pop(subject, None)
        return destroyed

    def evict(self, subject: str) -> None:
        """Drop a subject from the cache (when told it was forgotten elsewhere)."""
        self._cache.pop(subject, None)

    async def _keys(self, subjects: Collection[str], *, create: bool) -> dict[str, AESGCM | None]:
        now = time.monotonic()
        found: dict[str, AESGCM | None] = {}
        missing = []
        for subject in subjects:
            cached = self._cache.get(subject)
            if cached is not None and now - cached[1] < self._seconds:
                self._cache.move_to_end(subject)
                found[subject] = cached[0]
            else:
                missing.append(subject)
        if not missing:  # the usual case awaits nothing (inline projections rely on it)
            return found
        rows = await self.store.fetch(missing)
        for subject in missing:
            row = rows.get(subject)
            if row is None:
                if not create:
                    raise DataKeyMissing(subject)
                made = StoredKey(
                    self._master.wrap(subject, new_data_key()), self._master.fingerprint
                )
                row = await self.store.add(subject, made)
            key = None
            if row.wrapped is not None:
                key = AESGCM(self._master.unwrap(subject, row.wrapped, row.master))
            found[subject] = key
            self._remember(subject, key, now)
        return found

    def _remember(self, subject: str, key: AESGCM | None, now: float) -> None:
        self._cache[subject] = (key, now)
        self._cache.move_to_end(subject)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)
