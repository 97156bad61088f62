"""Who runs the store's SQLite calls, each on a connection of its own.

`Writer` is the one thread that writes, which also gathers the appends waiting in its
queue into one transaction (group commit): a commit waits for the disk, and the event
loop must not. `Workers` is a pool of threads (reader threads when the `readers` option
asks for them); `LoopReader` runs reads on the event loop's own thread (the default).
Results travel back from threads with `loop.call_soon_threadsafe`: one hop per job, one
per group.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from eventbook._backends.sqlite.appends import AppendHook, AppendJob, commit_group
from eventbook._errors import StoreClosed
from eventbook._store.types import AppendResult, EncodedBatch

T = TypeVar("T")
Opener = Callable[[], sqlite3.Connection]

MAX_GROUP_APPENDS = 1000
MAX_GROUP_EVENTS = 20_000
"""Bounds on one group transaction, so that one commit never holds the lock for long."""


class _Call:
    __slots__ = ("function", "future")

    def __init__(self, function: Callable[[sqlite3.Connection], Any], future: asyncio.Future[Any]):
        self.function = function
        self.future = future


_STOP = object()


class Readers(Protocol):
    """What the store asks of whoever runs its reads."""

    def call(self, function: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]: ...

    async def stop(self) -> None: ...


class LoopReader:
    """Runs reads on the event loop's thread, on one read-only connection.

    With write-ahead logging a read never waits for a lock, and a page of rows comes from
    the page cache in about a millisecond, less than the decoding of it that follows on
    the loop anyway. A reader thread would run at the same time only in theory: it needs
    the GIL back after each SQLite call, and the loop's thread holds it while it decodes,
    so the hand-over adds two thread wake-ups and waits for the GIL to every read.

    Each result is delivered one loop iteration later, so that a long read (pages
    fetched one after another) lets other tasks run between its pages.
    """

    def __init__(self, opener: Opener) -> None:
        self._opener = opener
        self._connection: sqlite3.Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._connection = self._opener()

    def call(self, function: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        if self._connection is None or self._loop is None:
            raise StoreClosed("the event store is closed")
        future: asyncio.Future[T] = self._loop.create_future()
        try:
            result = function(self._connection)
        except Exception as exc:
            self._loop.call_soon(_set_outcome, future, None, exc)
        else:
            self._loop.call_soon(_set_outcome, future, result, None)
        return future

    async def stop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


class Workers:
    """`count` threads, each with its own connection, serving one queue of jobs."""

    def __init__(self, name: str, opener: Opener, count: int = 1) -> None:
        self._name = name
        self._opener = opener
        self._count = count
        self._jobs: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._finished: list[asyncio.Future[None]] = []
        self._stopped = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        """Start the threads; raises what opening a connection raised."""
        self._loop = loop = asyncio.get_running_loop()
        ready = [loop.create_future() for _ in range(self._count)]
        for index, opened in enumerate(ready):
            finished: asyncio.Future[None] = loop.create_future()
            self._finished.append(finished)
            thread = threading.Thread(
                target=self._main, args=(opened, finished), name=f"{self._name}-{index}"
            )
            thread.daemon = True  # a store left open must not keep the process alive
            thread.start()
        outcomes = await asyncio.gather(*ready, return_exceptions=True)
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if failures:
            await self.stop()
            raise failures[0]

    def call(self, function: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Run `function(connection)` in a worker thread; await the returned future."""
        loop = self._running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Call(function, future))
        return future

    async def stop(self) -> None:
        """Finish the jobs already queued, close the connections, end the threads."""
        if not self._stopped:
            self._stopped = True
            for _ in self._finished:
                self._jobs.put(_STOP)
        await asyncio.gather(*self._finished)

    # -- in the worker threads ---------------------------------------------------------------

    def _main(self, opened: asyncio.Future[None], finished: asyncio.Future[None]) -> None:
        try:
            try:
                connection = self._opener()
            except Exception as exc:
                self._settle(opened, None, exc)
                return
            self._settle(opened, None, None)
            try:
                self._serve(connection)
            finally:
                connection.close()
        finally:
            self._settle(finished, None, None)

    def _serve(self, connection: sqlite3.Connection) -> None:
        while (job := self._jobs.get()) is not _STOP:
            self._run(connection, job)

    def _run(self, connection: sqlite3.Connection, job: object) -> None:
        assert isinstance(job, _Call)
        try:
            result = job.function(connection)
        except Exception as exc:
            self._settle(job.future, None, exc)
        else:
            self._settle(job.future, result, None)

    def _settle(
        self, future: asyncio.Future[Any], result: object, error: BaseException | None
    ) -> None:
        self._send(_set_outcome, future, result, error)

    def _send(self, callback: Callable[..., None], *args: object) -> None:
        assert self._loop is not None
        # A closed event loop refuses the callback: nobody is waiting for it any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback, *args)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._stopped or self._loop is None:
            raise StoreClosed("the event store is closed")
        return self._loop


class Writer(Workers):
    """The single writing thread. Appends queued together are committed together."""

    def __init__(self, name: str, opener: Opener, on_commit: Callable[[], None]) -> None:
        super().__init__(name, opener, 1)
        self._on_commit = on_commit
        self._pending: list[AppendJob] = []
        self.hooks: tuple[AppendHook, ...] = ()

    def append(self, batch: EncodedBatch) -> asyncio.Future[AppendResult]:
        loop = self._running_loop()
        future: asyncio.Future[AppendResult] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._hand_over)
        self._pending.append(AppendJob(batch, future))
        return future

    async def stop(self) -> None:
        self._hand_over()  # appends made in this loop iteration are written before stopping
        await super().stop()

    def _hand_over(self) -> None:
        # Runs once the tasks that were ready together have all had their turn: tasks woken
        # by one commit append again in the same loop iteration, and their appends reach
        # the writer as one group instead of one alone followed by the rest.
        if self._pending:
            jobs, self._pending = self._pending, []
            self._jobs.put(jobs)

    def _serve(self, connection: sqlite3.Connection) -> None:
        carried: object = None
        while True:
            item = self._jobs.get() if carried is None else carried
            carried = None
            if item is _STOP:
                return
            if not isinstance(item, list):
                self._run(connection, item)
                continue
            group: list[AppendJob] = item
            events = sum(len(job.batch.events) for job in group)
            # Everything queued meanwhile joins this transaction; a job of another kind
            # (a snapshot, a query) waits for the group, keeping the queue's order.
            while len(group) < MAX_GROUP_APPENDS and events < MAX_GROUP_EVENTS:
                try:
                    following = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if not isinstance(following, list):
                    carried = following
                    break
                group.extend(following)
                events += sum(len(job.batch.events) for job in following)
            self._commit(connection, group)

    def _commit(self, connection: sqlite3.Connection, group: list[AppendJob]) -> None:
        # An append whose caller was cancelled before it was written is dropped.
        wanted = [job for job in group if not job.future.cancelled()]
        committed = bool(wanted) and commit_group(connection, wanted, self.hooks)
        self._send(self._settle_group, wanted, committed)

    def _settle_group(self, group: Sequence[AppendJob], committed: bool) -> None:
        for job in group:
            _set_outcome(job.future, job.result, job.error)
        if committed:
            self._on_commit()


def _set_outcome(future: asyncio.Future[Any], result: object, error: BaseException | None) -> None:
    if future.done():  # cancelled by its caller meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
