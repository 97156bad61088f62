"""The store model (`eventbook.testing.store_model`) taught the stream lifecycle: soft
delete, tombstone, truncation, retention, purge, and the snapshots a truncation keeps.

Each operation has a `predict_*` (what the store must answer, as an `Outcome`) and an
apply method, called once the store acknowledged it, that updates the model and records
the system event (`$stream-deleted`, ...) in the stream's `$$` stream, as the store
appends it to the global order. The rules are those of `eventbook._store.lifecycle`,
written out again here so that the model does not share the code it checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from eventbook._store.lifecycle import (
    STREAM_ARCHIVED,
    STREAM_DELETED,
    STREAM_TRUNCATED,
    metadata_stream,
)
from eventbook._store.types import AppendResult, Expected
from eventbook.testing.store_model import Outcome, StoreModel, StreamLife, meets


@dataclass
class StoreLifecycleModel(StoreModel):
    snapshots: dict[tuple[str, str], dict[int, dict[str, Any]]] = field(default_factory=dict)
    """(stream, schema) -> version -> state."""

    # -- delete and tombstone ----------------------------------------------------------------

    def predict_delete(self, stream: str, expected: Expected, hard: bool) -> Outcome:
        """A tombstone is refused only on a tombstoned stream; a soft delete also on a
        deleted stream and (after the expectation) on one without visible events."""
        life = self.life(stream)
        version = self.version(stream)
        if life.tombstoned or (life.deleted and not hard):
            return Outcome("deleted", hard=life.tombstoned)
        if not meets(expected, version):
            return Outcome("conflict", actual=version)
        if not hard and version < life.first_version:
            return Outcome("missing")
        return Outcome("delete", actual=version)

    def delete(self, stream: str, hard: bool, result: AppendResult) -> None:
        version = self.version(stream)
        life = self.life(stream)
        life.first_version, life.last_version = version + 1, version
        life.deleted, life.tombstoned = not hard, hard
        if hard:  # the events and snapshots go; the name is reserved for ever
            self.remove(stream, version + 1)
            self._drop_snapshots(stream)
        self._marker(STREAM_DELETED, stream, result, version=version, hard=hard)

    # -- truncate ----------------------------------------------------------------------------

    def predict_truncate(self, stream: str, before: int | None) -> Outcome:
        """`before=None` cuts after the newest snapshot (any schema); the newest event
        always stays; a cut that removes nothing changes nothing."""
        if before is None:
            newest = self.newest_snapshot(stream)
            if newest is None:
                return Outcome("invalid")
            before = newest + 1
        life = self.life(stream)
        version = self.version(stream)
        if life.tombstoned or life.deleted:
            return Outcome("deleted", hard=life.tombstoned)
        if version == 0:
            return Outcome("missing")
        cut = min(before, version)
        if cut <= life.first_version:
            return Outcome("unchanged")
        return Outcome("truncate", cut=cut)

    def truncate(self, stream: str, cut: int, result: AppendResult) -> None:
        life = self.life(stream)
        life.first_version, life.last_version = cut, self.version(stream)
        self.remove(stream, cut)
        for (name, _), taken in self.snapshots.items():
            if name == stream:  # older than the state just before the cut, but the newest
                newest = max(taken)
                for version in [v for v in taken if v < cut - 1 and v != newest]:
                    del taken[version]
        self._marker(STREAM_TRUNCATED, stream, result, before=cut)

    # -- retention ---------------------------------------------------------------------------

    def set_retention(self, stream: str, max_count: int | None, max_age: timedelta | None) -> None:
        life = self.life(stream)
        life.max_count, life.max_age = max_count, max_age

    def retained(self) -> list[tuple[str, StreamLife]]:
        """What `retained_streams` lists: live streams with events and a setting, by name."""
        return [
            (name, life)
            for name, life in sorted(self.lives.items())
            if (life.max_count is not None or life.max_age is not None)
            and not (life.deleted or life.tombstoned)
            and self.held_version(name) > 0
        ]

    def retention_cut(self, stream: str, all_too_old: bool) -> Outcome:
        """Where `enforce_retention` truncates: the stricter of `max_count` and `max_age`
        (every event too old for it, or none: the machine picks `now` so)."""
        life = self.life(stream)
        version = self.version(stream)
        cuts: list[int] = []
        if life.max_count is not None:
            cuts.append(version - life.max_count + 1)
        if life.max_age is not None:
            cuts.append(version if all_too_old else self.stream(stream)[0].version)
        cut = max(cuts, default=0)
        return Outcome("truncate", cut=cut) if cut > life.first_version else Outcome("unchanged")

    # -- purge -------------------------------------------------------------------------------

    def predict_purge(self, stream: str) -> Outcome:
        if self.life(stream).tombstoned:
            return Outcome("deleted", hard=True)
        version = self.held_version(stream)
        return Outcome("purge", actual=version) if version > 0 else Outcome("unchanged")

    def purge(self, stream: str, result: AppendResult) -> None:
        """Events, snapshots and marks go (retention too): the name starts afresh."""
        version = self.held_version(stream)
        self.remove(stream, version + 1)
        self._drop_snapshots(stream)
        self.lives.pop(stream, None)
        self._marker(STREAM_ARCHIVED, stream, result, version=version)

    # -- snapshots ---------------------------------------------------------------------------

    def save_snapshot(self, stream: str, version: int, schema: str, state: dict[str, Any]) -> None:
        self.snapshots.setdefault((stream, schema), {})[version] = state

    def load_snapshot(
        self, stream: str, schema: str, max_version: int | None
    ) -> tuple[int, dict[str, Any]] | None:
        taken = self.snapshots.get((stream, schema), {})
        usable = [v for v in taken if max_version is None or v <= max_version]
        return (max(usable), taken[max(usable)]) if usable else None

    def newest_snapshot(self, stream: str) -> int | None:
        versions = [
            v for (name, _), taken in self.snapshots.items() if name == stream for v in taken
        ]
        return max(versions, default=None)

    def _drop_snapshots(self, stream: str) -> None:
        for key in [key for key in self.snapshots if key[0] == stream]:
            del self.snapshots[key]

    def _marker(self, type: str, stream: str, result: AppendResult, **data: Any) -> None:
        self.record_system(metadata_stream(stream), type, {"stream": stream, **data}, result)
