"""The port's stream-lifecycle operations: delete, tombstone, truncate, retention, purge.

`EventStore` inherits them. Input is checked here once; a backend implements the
primitives (`_stream_marks`, `_delete_stream`, `_truncate_stream`, `_set_retention`,
`_retained_streams`, `_purge_stream`), each atomic with its system event, or leaves the
defaults, which raise `NotSupported`. The rules themselves are in `_store.lifecycle`.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from eventbook._errors import NotSupported, StreamDeleted, StreamNotFound, ValidationError
from eventbook._store.encoding import check_stream_name, check_version, normalise_expected
from eventbook._store.lifecycle import (
    StreamMarks,
    StreamState,
    check_not_system,
    check_retention,
    retention_cut,
    state_of,
)
from eventbook._store.types import ANY, AppendResult, Expected, RecordedEvent


class StreamLifecycle(abc.ABC):
    """Deleting, truncating and retiring streams (see docs/event-store.md, "Lifecycle")."""

    async def stream_state(self, stream: str) -> StreamState:
        """The stream's version, visible range, deletion marks and retention settings."""
        check_stream_name(stream)
        self._check_open()
        return await self._stream_state(stream)

    async def delete_stream(self, stream: str, *, expected: Expected = ANY) -> AppendResult:
        """Soft-delete `stream`: it reads as deleted (`StreamDeleted`, a `StreamNotFound`,
        with `must_exist`; no events otherwise) and appends are refused with
        `StreamDeleted` unless they pass `restart=True`, which starts a new history whose
        versions follow the deleted ones. The events stay in the global order.

        Returns where the `$stream-deleted` system event landed (in `$$<stream>`).
        """
        return await self._lifecycle_delete(stream, expected, hard=False)

    async def tombstone_stream(self, stream: str, *, expected: Expected = ANY) -> AppendResult:
        """Hard-delete `stream`: its events and snapshots are removed where the backend
        allows it, and its name can never be used again (`StreamDeleted(hard=True)`)."""
        return await self._lifecycle_delete(stream, expected, hard=True)

    async def truncate_stream(
        self, stream: str, *, before: int | None = None
    ) -> AppendResult | None:
        """Remove the stream's events below version `before` (default: the newest
        snapshot's version + 1, so the newest snapshot and what follows stay), and the
        snapshots older than the newest of each schema that are below the cut.

        The newest event always stays. Returns where the `$stream-truncated` system event
        landed, or None when nothing was removed.
        """
        check_stream_name(stream)
        check_not_system(stream)
        if before is not None:
            check_version("before", before)
        self._check_open()
        if before is None:
            newest = await self._newest_snapshot_version(stream)
            if newest is None:
                raise ValidationError(
                    f"stream {stream!r} has no snapshot to truncate at; pass before="
                )
            before = newest + 1
        return await self._truncate_stream(stream, before)

    async def set_stream_retention(
        self, stream: str, *, max_count: int | None = None, max_age: timedelta | None = None
    ) -> None:
        """Keep at most `max_count` events and none older than `max_age` (a timedelta) in
        `stream`, as stream metadata; `enforce_retention` applies it. None lifts a limit."""
        check_stream_name(stream)
        check_not_system(stream)
        seconds = check_retention(max_count, max_age)
        self._check_open()
        await self._set_retention(stream, max_count, seconds)

    async def retained_streams(self) -> list[StreamState]:
        """Every live stream with a retention setting, by name."""
        self._check_open()
        return await self._retained_streams()

    async def enforce_retention(
        self, state: StreamState, *, now: datetime | None = None
    ) -> AppendResult | None:
        """Truncate one stream (from `retained_streams`) to its retention settings; the
        `$stream-truncated` system event's result, or None when it was within them."""
        self._check_open()
        now = now or datetime.now(UTC)
        age_cut: int | None = None
        if state.max_age is not None:
            age_cut = state.version  # all too old: keep only the newest
            async for event in self.read_stream(state.stream):
                if event.recorded_at >= now - state.max_age:
                    age_cut = event.version
                    break
        cut = retention_cut(state, age_cut)
        return None if cut is None else await self._truncate_stream(state.stream, cut)

    async def purge_stream(self, stream: str) -> AppendResult | None:
        """Remove every trace of `stream` but its system events: events, snapshots, marks.

        Privileged: `eventbook archive` calls it after writing the stream out, so that
        `import_events` can bring the stream back exactly. Returns where the
        `$stream-archived` system event landed, or None for a stream without events.
        """
        check_stream_name(stream)
        check_not_system(stream)
        self._check_open()
        return await self._purge_stream(stream)

    # -- what the port provides to these ---------------------------------------------------

    @abc.abstractmethod
    def _check_open(self) -> None: ...

    @abc.abstractmethod
    def read_stream(
        self,
        stream: str,
        *,
        from_version: int | None = None,
        backwards: bool = False,
        limit: int | None = None,
        must_exist: bool = False,
    ) -> AsyncIterator[RecordedEvent]: ...

    @abc.abstractmethod
    async def _stream_version(self, stream: str) -> int: ...

    async def _lifecycle_delete(self, stream: str, expected: object, *, hard: bool) -> AppendResult:
        check_stream_name(stream)
        check_not_system(stream)
        checked = normalise_expected(expected)
        self._check_open()
        return await self._delete_stream(stream, checked, hard)

    async def _check_exists(self, stream: str) -> None:
        """For `read_stream(must_exist=True)` when the first page is empty."""
        state = await self._stream_state(stream)
        if state.deleted or state.tombstoned:
            raise StreamDeleted(stream, hard=state.tombstoned)
        if not state.exists:
            raise StreamNotFound(stream)

    async def _stream_state(self, stream: str) -> StreamState:
        return state_of(
            stream, await self._stream_version(stream), await self._stream_marks(stream)
        )

    # -- what a backend implements ---------------------------------------------------------

    async def _stream_marks(self, stream: str) -> StreamMarks | None:
        """The stream's marks; None when it has none (a backend without lifecycle)."""
        return None

    async def _newest_snapshot_version(self, stream: str) -> int | None:
        raise NotSupported(f"{type(self).__name__} cannot truncate streams")

    async def _delete_stream(self, stream: str, expected: Expected, hard: bool) -> AppendResult:
        raise NotSupported(f"{type(self).__name__} cannot delete streams")

    async def _truncate_stream(self, stream: str, before: int) -> AppendResult | None:
        raise NotSupported(f"{type(self).__name__} cannot truncate streams")

    async def _set_retention(
        self, stream: str, max_count: int | None, max_age_seconds: float | None
    ) -> None:
        raise NotSupported(f"{type(self).__name__} cannot keep retention settings")

    async def _retained_streams(self) -> list[StreamState]:
        raise NotSupported(f"{type(self).__name__} cannot keep retention settings")

    async def _purge_stream(self, stream: str) -> AppendResult | None:
        raise NotSupported(f"{type(self).__name__} cannot purge streams")
