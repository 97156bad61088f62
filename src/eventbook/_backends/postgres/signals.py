"""Wake-ups for subscribers: at once within this process, by LISTEN/NOTIFY across processes.

Appends never NOTIFY inside their own transaction. PostgreSQL takes a cluster-wide lock
when a notifying transaction commits, so a NOTIFY in every append serialises the commits
of all writers (their WAL flushes can no longer be grouped). Instead this process sends
NOTIFY from its own connection after an append has committed; appends that commit while
one NOTIFY is in flight, or within `notify_interval` after it, share the next. The
connection runs with synchronous_commit off: a NOTIFY lost in a crash only delays a
subscriber until its next poll.

The same connection LISTENs once a subscription waits here, and reconnects with backoff
when it is lost; subscribers poll meanwhile, and are woken when it is back (anything
notified while it was away is lost).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from eventbook._backends.postgres.connection import connect_one, log, translated
from eventbook._errors import UnavailableError
from eventbook._store.signal import Wakeup, check_timeout

if TYPE_CHECKING:
    from eventbook._backends.postgres.direct import Direct
    from eventbook._backends.postgres.options import PostgresOptions

_RECONNECT_FIRST, _RECONNECT_MOST = 0.05, 2.0
_HELD_BACK_FIRST_WAIT, _HELD_BACK_MOST_WAIT = 0.005, 1.0


class Signals:
    """The store's wake-up signal, fed by its own appends and by other processes'."""

    def __init__(self, dsn: str, options: PostgresOptions, notify_query: str) -> None:
        self.wakeup = Wakeup()
        self.channel = f"eventbook_{options.schema}"
        self._dsn = dsn
        self._options = options
        self._notify_query = notify_query
        self._kick = asyncio.Event()
        self._pending = False  # appends have committed since the last NOTIFY went out
        self._listening = False
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self.listening_now = False
        """True while notifications from other processes can reach this store."""

    @property
    def closed(self) -> bool:
        return self._closed

    def appended(self) -> None:
        """An append of this process has committed."""
        self.wakeup.notify()
        if self._options.notify:
            self._pending = True
            self._wake_loop()

    def listen(self) -> None:
        """Start receiving other processes' wake-ups (idempotent)."""
        if not self._listening:
            self._listening = True
            self._wake_loop()

    async def close(self) -> None:
        self._closed = True
        self.wakeup.notify()
        task, self._task = self._task, None
        if task is None:
            return
        self._kick.set()
        try:
            async with asyncio.timeout(2):
                await task
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _wake_loop(self) -> None:
        self._kick.set()
        if not self._closed and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        # This task must outlive every failure, whatever its kind: while it is down, other
        # processes' appends wake no subscriber here. So it catches everything but its own
        # cancellation, logs what it did not expect, and connects again with backoff.
        delay = _RECONNECT_FIRST
        while not self._closed:
            try:
                connection = await connect_one(
                    self._dsn, self._options, "signals", {"synchronous_commit": "off"}
                )
            except Exception as exc:
                if not isinstance(exc, UnavailableError):
                    log.exception("the wake-up connection could not be opened; retrying")
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RECONNECT_MOST)
                continue
            served_since = asyncio.get_running_loop().time()
            try:
                await self._serve(connection)
            except UnavailableError:
                pass  # logged where it was raised; connect again
            except Exception:
                log.exception("the wake-up connection failed; reconnecting")
            finally:
                self.listening_now = False
                if not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await connection.close(timeout=1)
            # A connection that fails at once (a server still starting up) backs off too.
            if asyncio.get_running_loop().time() - served_since < _RECONNECT_MOST:
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RECONNECT_MOST)
            else:
                delay = _RECONNECT_FIRST

    async def _serve(self, connection: Direct) -> None:
        own_pid = connection.get_server_pid()

        def on_notification(_c: object, pid: int, _channel: str, _payload: object) -> None:
            if pid != own_pid:  # our own appends woke our subscribers already
                self.wakeup.notify()

        def on_lost(_c: object) -> None:
            self._kick.set()

        connection.add_termination_listener(on_lost)
        while not self._closed:
            if connection.is_closed():
                log.warning("the wake-up connection to PostgreSQL was lost; reconnecting")
                return
            with translated("send or receive wake-ups"):
                if self._listening and not self.listening_now:
                    await connection.add_listener(self.channel, on_notification)
                    self.listening_now = True
                    self.wakeup.notify()  # whatever was notified before now is missed: look
                if self._pending:
                    self._pending = False
                    await connection.execute(self._notify_query, self.channel)
                    # Appends committing meanwhile share the next NOTIFY: a busy writer
                    # sends at most one per interval, whatever its append rate.
                    await asyncio.sleep(self._options.notify_interval)
            if not self._pending:
                await self._kick.wait()
                self._kick.clear()


class HeldBackAwareSignal:
    """The store's `AppendSignal`: `Signals`' wake-ups, and a short wait while committed
    events are held back behind an open transaction, which may never NOTIFY (it need not
    be an append), so that readers look again soon, backing off while it stays."""

    def __init__(
        self, signals: Signals, held_back: Callable[[], Awaitable[bool]], poll_interval: float
    ) -> None:
        self._signals = signals
        self._held_back = held_back
        self._poll_interval = poll_interval
        self._held_back_wait = _HELD_BACK_FIRST_WAIT

    def ticket(self) -> int:
        return self._signals.wakeup.ticket()

    async def wait(self, ticket: int, timeout: float) -> bool:
        timeout = check_timeout(timeout)
        if self._signals.closed or ticket != self._signals.wakeup.ticket():
            return True
        self._signals.listen()
        if await self._held_back():
            timeout = min(timeout, self._held_back_wait)
            self._held_back_wait = min(
                self._held_back_wait * 2, self._poll_interval, _HELD_BACK_MOST_WAIT
            )
        else:
            self._held_back_wait = _HELD_BACK_FIRST_WAIT
        return await self._signals.wakeup.wait(ticket, timeout)
