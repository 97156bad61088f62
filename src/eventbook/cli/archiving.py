"""Archiving: whole streams out of the hot store into compressed JSON Lines, then purged.

No typer here: `maintenance.py` holds the commands. The file has `eventbook export`'s
format (one `RecordedEvent` per line), so `eventbook import --restore` brings the
streams back exactly: ids, versions, types, data, metadata and `recorded_at` (positions
are new ones, after the `$stream-archived` system events).

Only whole, live streams are archived: a deleted, tombstoned or truncated stream could not
be imported back as it was (its first events are gone or hidden), so it is refused by
name and skipped when chosen by position. A stream is written out completely, and the
file flushed, before any stream is purged; streams being archived should not be written
to meanwhile (an event appended between the read and the purge would be purged unsaved,
so the purge is refused when the stream's version moved on).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from eventbook._errors import ConcurrencyError, ValidationError
from eventbook._store.lifecycle import SYSTEM_PREFIX
from eventbook._store.port import EventStore
from eventbook._store.types import Position, RecordedEvent
from eventbook.cli.transfer import Progress, encode_line, opened


class Archived(NamedTuple):
    streams: list[str]
    events: int
    skipped: list[str]
    """Streams chosen by position but left in place (deleted, tombstoned, truncated)."""
    seconds: float


async def streams_before(store: EventStore, before: Position) -> list[str]:
    """The streams whose newest event lies before `before` (system streams excepted)."""
    before = store.check_position(before)
    return [
        info.stream
        for info in await store.list_streams()
        if info.last_position < before and not info.stream.startswith(SYSTEM_PREFIX)
    ]


async def archive_streams(
    store: EventStore,
    path: Path,
    streams: Sequence[str],
    *,
    by_name: bool,
    progress: Progress,
) -> Archived:
    """Write `streams` to `path` (gzip for `.gz`), then purge each from `store`."""
    started = time.perf_counter()
    chosen: list[tuple[str, int]] = []
    skipped: list[str] = []
    for stream in dict.fromkeys(streams):
        state = await store.stream_state(stream)
        if state.exists and state.first_version == 1:
            chosen.append((stream, state.version))
        elif by_name:
            raise ValidationError(
                f"stream {stream!r} cannot be archived: it is "
                + ("missing" if state.version == 0 else "deleted or truncated")
                + " (only whole, live streams come back exactly by import)"
            )
        else:
            skipped.append(stream)
    total = sum(version for _, version in chosen)
    done = 0
    progress(0, total)
    with opened(path, "wb") as out:
        for stream, version in chosen:
            events = [e async for e in store.read_stream(stream)]
            _check_whole(stream, events, version)
            out.write(b"\n".join(map(encode_line, events)) + b"\n")
            done += len(events)
            progress(done, total)
    for stream, version in chosen:
        if await store.stream_version(stream) != version:
            raise ConcurrencyError(stream, version, await store.stream_version(stream))
        await store.purge_stream(stream)
    names = [stream for stream, _ in chosen]
    return Archived(names, done, skipped, time.perf_counter() - started)


def _check_whole(stream: str, events: list[RecordedEvent], version: int) -> None:
    if [e.version for e in events] != list(range(1, version + 1)):
        raise ValidationError(
            f"stream {stream!r} changed while it was read; nothing was purged, run again"
        )
