"""Physically removing a stream's events, id markers and snapshots, by purging subjects.

A purge by subject (`filter` with `seq`: what lies below that sequence) keeps every
sequence number, so a removed event's position is never handed out again and `read_all`
stays gap-safe: readers only ever skip what is gone. Each removal follows the committed
batch that records it (marks, fence, system event), so readers already hide what it
removes; one that is cut short leaves events that are hidden from `read_stream` but
still seen by `read_all` and `read_event` until the operation is repeated.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

from eventbook._backends.nats import codec
from eventbook._backends.nats.direct import sequence_of
from eventbook._backends.nats.parts import StoreParts
from eventbook._errors import UnavailableError

PURGES_AT_ONCE = 64
"""Id markers purged concurrently (one purge request each)."""


class Removal:
    """Purges on one store's two JetStream streams."""

    def __init__(self, parts: StoreParts) -> None:
        self._client = parts.client
        self._js = parts.js
        self._subjects = parts.subjects
        self._events = parts.events
        self._snapshots = parts.snapshots
        self._stream = parts.options.stream
        self._timeout = parts.options.request_timeout

    async def events_below(self, subject: str, below: int) -> None:
        """Remove the messages on `subject` below sequence `below`, and the id markers of
        the events among them."""
        if below <= 1:
            return
        ids: list[str] = []
        sequence = 1
        while True:
            messages = await self._events.page(subject, sequence, 1000)
            inside = [m for m in messages if sequence_of(m) < below]
            ids.extend(codec.event_id_hex(m) for m in inside if not codec.is_fence(m))
            if len(inside) < len(messages) or len(messages) < 1000:
                break
            sequence = sequence_of(messages[-1]) + 1
        # Id markers first: a removal run again after an outage finds the events, so their
        # ids, until the very end.
        await self._purge_each(self._subjects.event_id(hex_id) for hex_id in ids)
        await self._purge_below(subject, below)

    async def marks_below(self, subject: str, below: int) -> None:
        await self._purge_below(subject, below)

    async def _purge_below(self, subject: str, below: int) -> None:
        await self._js.purge_stream(self._stream, subject=subject, seq=below)
        self._events.forget(subject)
        self._events.purged(subject, below)

    async def all_snapshots(self, stream: str) -> None:
        await self._js.purge_stream(
            self._subjects.snapshot_stream, subject=self._subjects.snapshots_of(stream)
        )

    async def snapshots_before(self, stream: str, before: int) -> None:
        """Per schema tag, the snapshots below `before - 1` but the newest (as the other
        backends: the newest snapshot and one at the cut stay useful)."""
        kept = 1000
        for subject in await self.subjects(
            self._subjects.snapshot_stream, self._subjects.snapshots_of(stream)
        ):
            taken = await self._snapshots.page(subject, 1, kept)
            if not taken:
                continue
            newest = max(codec.snapshot_version(m) for m in taken)
            for message in taken:
                version = codec.snapshot_version(message)
                if version < before - 1 and version != newest:
                    await self._js.delete_msg(self._subjects.snapshot_stream, sequence_of(message))

    async def newest_snapshot(self, stream: str) -> int | None:
        newest: int | None = None
        for subject in await self.subjects(
            self._subjects.snapshot_stream, self._subjects.snapshots_of(stream)
        ):
            for message in await self._snapshots.page(subject, 1, 1000):
                version = codec.snapshot_version(message)
                newest = version if newest is None else max(newest, version)
        return newest

    async def subjects(self, stream: str, matching: str) -> list[str]:
        """Every subject of `stream` matching the filter `matching`, page by page."""
        found: list[str] = []
        while True:
            request = {"subjects_filter": matching, "offset": len(found)}
            answer = await self._api(f"$JS.API.STREAM.INFO.{stream}", request)
            page = list(((answer.get("state") or {}).get("subjects") or {}).keys())
            found.extend(page)
            if not page or len(found) >= int(answer.get("total", 0)):
                return sorted(set(found))

    async def _purge_each(self, subjects: Iterable[str]) -> None:
        pending = list(subjects)
        for start in range(0, len(pending), PURGES_AT_ONCE):
            chunk = pending[start : start + PURGES_AT_ONCE]
            await asyncio.gather(
                *(self._js.purge_stream(self._stream, subject=subject) for subject in chunk)
            )

    async def _api(self, subject: str, request: dict[str, Any]) -> dict[str, Any]:
        reply = await self._client.request(
            subject, json.dumps(request).encode(), timeout=self._timeout
        )
        answer: dict[str, Any] = json.loads(reply.data)
        error = answer.get("error")
        if error is not None:
            raise UnavailableError(f"the NATS server refused {subject}: {error}")
        return answer
