"""The incumbent library, `eventsourcing` (9.5.x), as an optional contestant.

Installed only when asked: `pip install -e '.[bench-peers]'` (or
`pip install 'eventsourcing>=9.5,<9.6'`). Without it, `available()` is False and the
benchmarks skip its rows with one line saying so.

It is used as its documentation shows for an event store of its own: an `EventStore`
(a `Mapper` with its default JSON transcoder and the transcodings an `Application`
registers) over a `SQLiteApplicationRecorder`, whose calls run and commit on the
caller's thread. Each event carries the same data and metadata as eventbook's, in a
frozen `DomainEvent` dataclass (the incumbent's event type).
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    from eventsourcing.domain import DomainEvent
    from eventsourcing.persistence import (
        DatetimeAsISO,
        DecimalAsStr,
        EventStore,
        JSONTranscoder,
        Mapper,
        UUIDAsHex,
    )
    from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore
except ImportError:  # the optional contestant is not installed
    _INSTALLED = False
else:
    _INSTALLED = True

SKIPPED = (
    "eventsourcing is not installed: its rows are skipped"
    " (pip install -e '.[bench-peers]' to compare with it)"
)


def available() -> bool:
    return _INSTALLED


def say_skipped() -> None:
    print(SKIPPED, file=sys.stderr)


if _INSTALLED:

    @dataclass(frozen=True)
    class OrderPlaced(DomainEvent):  # type: ignore[misc,unused-ignore]  # Any when absent
        data: dict[str, Any]
        metadata: dict[str, Any]


Data = Callable[[int], dict[str, Any]]
Metadata = Callable[[], dict[str, Any]]


class Incumbent:
    """An `eventsourcing` event store on one SQLite file (WAL, synchronous FULL: its
    defaults, the same durability as eventbook's default), writing events made by `data`
    and `metadata`, the functions that make eventbook's."""

    def __init__(self, path: Path, data: Data, metadata: Metadata) -> None:
        transcoder = JSONTranscoder()
        for transcoding in (UUIDAsHex(), DatetimeAsISO(), DecimalAsStr()):
            transcoder.register(transcoding)
        self.datastore = SQLiteDatastore(str(path))
        self.recorder = SQLiteApplicationRecorder(self.datastore)
        self.recorder.create_table()
        self.store: EventStore[uuid.UUID] = EventStore(Mapper(transcoder), self.recorder)
        self.data, self.metadata = data, metadata
        self.versions: dict[uuid.UUID, int] = {}
        self.streams = [uuid.uuid4() for _ in range(50)]

    def close(self) -> None:
        self.datastore.close()

    def append(self, stream: uuid.UUID, n: int, size: int) -> None:
        """One append of `size` events to `stream`, committed before it returns."""
        version = self.versions.get(stream, 0)
        events = [
            OrderPlaced(
                originator_id=stream,
                originator_version=version + k,
                timestamp=OrderPlaced.create_timestamp(),
                data=self.data(n),
                metadata=self.metadata(),
            )
            for k in range(1, size + 1)
        ]
        self.store.put(events)
        self.versions[stream] = version + size

    def appends(self, count: int, size: int) -> float:
        """Seconds taken by `count` appends of `size` events each, over 50 streams."""
        start = time.perf_counter()
        for n in range(count):
            self.append(self.streams[n % 50], n, size)
        return time.perf_counter() - start

    def read_all(self) -> int:
        """Every event in the order of notifications, pages of 1,000, decoded."""
        count, start = 0, 0
        to_domain_event = self.store.mapper.to_domain_event
        while True:
            page = self.recorder.select_notifications(start, 1000, inclusive_of_start=False)
            for notification in page:
                to_domain_event(notification)
            count += len(page)
            if len(page) < 1000:
                return count
            start = page[-1].id

    def read_stream(self, stream: uuid.UUID) -> int:
        """One stream's events, decoded."""
        return sum(1 for _ in self.store.get(stream))
