"""Moving events between stores, and to and from JSON Lines files.

No typer here: the commands in `copying.py` and `benchmarks/copy.py` call these.

Resuming: the destination's newest event says where a copy stopped. Its id is looked up
in the source, and the copy continues after that event's source position. This is sound
because imports keep the source's order and each import call is written whole (or, on a
backend using the port's default import, stream run by stream run, in order), so the
destination always holds a prefix of what was copied, never a gap.
"""

from __future__ import annotations

import asyncio
import gzip
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, NamedTuple, cast

import msgspec

from eventbook._errors import NotSupported, ValidationError
from eventbook._store.encoding import MAX_NUMBER
from eventbook._store.port import EventStore
from eventbook._store.types import Position, RecordedEvent

PAGE = 1000
"""Events read and imported together: one import transaction each."""

Progress = Callable[[int, int | None], None]
"""Called with (events done, events in all or None if unknown) after each page."""


class Copied(NamedTuple):
    events: int
    """Events written this time."""
    skipped: int
    """Events the destination held already when the run began (a resumed run)."""
    seconds: float
    last: Position | None
    """The source position of the last event written (or reached), for `--after`."""


def _quiet(done: int, total: int | None) -> None:
    """No progress shown."""


async def last_event(store: EventStore) -> RecordedEvent | None:
    """The newest event of `store`, or None when it is empty."""
    head = await store.head()
    if head is None:
        return None
    # Positions are integers pairs in order: nothing lies between (a, b - 1) and (a, b).
    if head.minor > 0:
        before = Position(head.major, head.minor - 1)
    else:
        before = Position(head.major - 1, MAX_NUMBER)
    page = await store.read_all_page(after=before, limit=1)
    return page[0] if page else None


async def count_events(store: EventStore, categories: Sequence[str] | None) -> int | None:
    """How many events a copy of `store` moves, if the backend can tell cheaply enough."""
    try:
        if not categories:
            return (await store.stats()).events
        total = 0
        for name in categories:
            total += sum(info.version for info in await store.list_streams(category=name))
        return total
    except NotSupported:
        return None


async def copy_store(
    source: EventStore,
    destination: EventStore,
    *,
    after: Position | None = None,
    categories: Sequence[str] | None = None,
    progress: Progress = _quiet,
    page_size: int = PAGE,
) -> Copied:
    """Copy `source`'s events after `after` (of `categories` only, if given) into
    `destination`, in global order, keeping everything but positions; resumable."""
    started = time.perf_counter()
    wanted = list(categories) if categories else None
    newest = await last_event(destination)
    skipped = 0
    cursor = after
    if newest is not None:
        copied_from = await source.read_event(newest.id)
        if copied_from is None:
            raise ValidationError(
                f"the destination's newest event ({newest.id} in {newest.stream!r}) is not in"
                " the source: it is not a copy of this store; copy into an empty store"
            )
        if cursor is None or copied_from.position > cursor:
            cursor = copied_from.position
        skipped = await _count(destination)
    total = await count_events(source, wanted)
    if total is not None and after is not None:
        total = None  # not counted from a position
    done = skipped
    progress(done, total)

    def read(start: Position | None) -> asyncio.Task[list[RecordedEvent]]:
        return asyncio.create_task(
            source.read_all_page(after=start, limit=page_size, categories=wanted)
        )

    # Read the next page while this one is written: both stores work at once.
    reading = read(cursor)
    written = 0
    try:
        while page := await reading:
            cursor = page[-1].position
            reading = read(cursor)
            await destination.import_events(page)
            written += len(page)
            done += len(page)
            progress(done, total)
    finally:
        reading.cancel()
    return Copied(written, skipped, time.perf_counter() - started, cursor)


async def _count(store: EventStore) -> int:
    return await _held(store) or 0


async def _held(store: EventStore) -> int | None:
    """How many events `store` holds, or None if the backend cannot count them."""
    try:
        return (await store.stats()).events
    except NotSupported:
        return None


_encode = msgspec.json.Encoder().encode
encode_line = _encode
_decode = msgspec.json.Decoder(RecordedEvent).decode


@contextmanager
def opened(path: Path, mode: str) -> Iterator[IO[bytes]]:
    """The file at `path` (`-`: stdin or stdout), compressed by its suffix."""
    if str(path) == "-":
        yield sys.stdout.buffer if mode == "wb" else sys.stdin.buffer
        return
    if path.suffix == ".zst":
        raise ValidationError(
            "zstd needs Python 3.14's compression.zstd, not available here; use .gz"
        )
    if path.suffix == ".gz":
        with gzip.GzipFile(path, mode) as compressed:
            yield cast("IO[bytes]", compressed)
        return
    with open(path, "wb" if mode == "wb" else "rb") as plain:
        yield plain


async def export_events(
    source: EventStore,
    path: Path,
    *,
    after: Position | None = None,
    categories: Sequence[str] | None = None,
    progress: Progress = _quiet,
) -> Copied:
    """Write `source`'s events as JSON Lines, one `RecordedEvent` per line, in order."""
    started = time.perf_counter()
    wanted = list(categories) if categories else None
    total = None if after is not None else await count_events(source, wanted)
    written = 0
    cursor = after
    with opened(path, "wb") as out:
        while page := await source.read_all_page(after=cursor, limit=PAGE, categories=wanted):
            out.write(b"\n".join(map(_encode, page)) + b"\n")
            cursor = page[-1].position
            written += len(page)
            progress(written, total)
    return Copied(written, 0, time.perf_counter() - started, cursor)


async def import_file(
    destination: EventStore, path: Path, *, progress: Progress = _quiet, restore: bool = False
) -> Copied:
    """Import an export into `destination`; events it holds already are skipped (resume).

    With `restore`, every event of the file is imported into a store that holds others
    (an archive coming back, see `archiving.py`): no resume, and each stream must be
    absent from the store (`import_events` refuses otherwise, importing nothing of that page).
    """
    started = time.perf_counter()
    newest = None if restore else await last_event(destination)
    skipping = newest is not None
    held = await _held(destination) if skipping else 0
    skipped = written = 0
    last: Position | None = None
    page: list[RecordedEvent] = []
    with opened(path, "rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                event = _decode(line)
            except msgspec.DecodeError as error:
                raise ValidationError(f"{path}:{number}: not an exported event: {error}") from None
            if skipping:
                skipped += 1
                skipping = newest is None or event.id != newest.id
                if not skipping and held is not None and held != skipped:
                    # The newest event is in the file, but the store is not its beginning.
                    raise ValidationError(
                        f"the store holds {held} events, but its newest is event {skipped} of"
                        f" {path}: it is not an import of this file; import into an empty store"
                    )
                continue
            page.append(event)
            if len(page) == PAGE:
                await destination.import_events(page)
                written, last = written + len(page), page[-1].position
                progress(skipped + written, None)
                page = []
    if skipping:
        raise ValidationError(
            f"the store's newest event ({newest.id if newest else '-'}) is not in {path}:"
            " it is not an import of this file; import into an empty store"
        )
    if page:
        await destination.import_events(page)
        written, last = written + len(page), page[-1].position
    progress(skipped + written, skipped + written)
    return Copied(written, skipped, time.perf_counter() - started, last)
