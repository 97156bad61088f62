"""Connections and their pool, and the translation of driver failures into eventbook errors.

Callers never see an asyncpg exception: a lost or unreachable server, or a connection the
driver can no longer use, becomes `UnavailableError`; a value PostgreSQL cannot store
becomes `ValidationError`. The store's contract errors (a conflict, a race) are picked out
by the callers before this translation.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import asyncpg

from eventbook._backends.postgres.direct import Direct
from eventbook._backends.postgres.jsonb import decode_jsonb, encode_jsonb
from eventbook._backends.postgres.options import PostgresOptions
from eventbook._backends.postgres.pool import Pool, PoolClosed, PoolTimeout
from eventbook._backends.postgres.session import Session
from eventbook._errors import StoreClosed, UnavailableError, ValidationError

log = logging.getLogger("eventbook.postgres")

if TYPE_CHECKING:
    from eventbook._backends.postgres.session import Statement

_LOST = (
    asyncpg.PostgresConnectionError,  # class 08: the connection failed or is gone
    asyncpg.exceptions.OperatorInterventionError,  # class 57: shutdown, cancel, starting up
    asyncpg.exceptions.InsufficientResourcesError,  # class 53: too many connections, disk full
    asyncpg.exceptions.PostgresSystemError,  # class 58: I/O error on the server
    asyncpg.exceptions.InternalServerError,  # class XX: the server's own failure
    OSError,  # refused, reset, unreachable
    TimeoutError,  # connect or command timeout
    # The driver's own failures: a connection closed under it, or one whose protocol is in
    # the wrong state (a server shutting down sends an error to an idle connection, which
    # then refuses the next query with "cannot switch to state ... another operation is
    # in progress"). The connection is discarded either way.
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)


async def prepare_connection(connection: Direct) -> None:
    """Called for every new connection: JSONB moves as bytes, decoded by msgspec."""
    await connection.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=encode_jsonb,
        decoder=decode_jsonb,
        format="binary",
    )


async def connect_one(
    dsn: str, options: PostgresOptions, role: str, settings: dict[str, str] | None = None
) -> Direct:
    """One connection outside the pool (the wake-up connection, the migrator's)."""
    with translated("connect to PostgreSQL"):
        connection: Direct = await asyncpg.connect(
            dsn,
            timeout=options.connect_timeout,
            command_timeout=options.command_timeout,
            server_settings={
                "application_name": f"{options.application_name}{role and ':'}{role}",
                "statement_timeout": str(round(options.statement_timeout * 1000)),
                **(settings or {}),
            },
        )
    return connection


async def create_pool(dsn: str, options: PostgresOptions) -> Pool:
    async def connect() -> Direct:
        connection = await connect_one(dsn, options, "")
        with translated("connect to PostgreSQL"):
            await prepare_connection(connection)
        return connection

    pool = Pool(connect, options.pool_size)
    await pool.fill(max(options.pool_min_size, 1))  # fail now if the server is unreachable
    return pool


class Connections:
    """Lends pool connections with a bounded wait, and recovers the pool after a loss."""

    def __init__(self, pool: Pool, options: PostgresOptions) -> None:
        self.pool = pool
        self._timeout = options.pool_timeout
        # Prepared statements per connection; they hold their connection, so the pool
        # tells when one goes.
        self._statements: dict[Direct, dict[str, Statement]] = {}
        pool.on_discard = self._discarded

    @contextlib.asynccontextmanager
    async def connection(self, what: str) -> AsyncIterator[Session]:
        try:
            with translated(what):
                lent = await self.pool.acquire(self._timeout)
        except PoolTimeout:
            raise self._no_connection(what) from None
        except PoolClosed:
            raise StoreClosed("the event store is closed") from None
        healthy = False
        try:
            with translated(what):
                try:
                    statements = self._statements.get(lent)
                    if statements is None:
                        statements = self._statements.setdefault(lent, {})
                    yield Session(lent, statements)
                    healthy = True
                except asyncpg.PostgresError as exc:
                    # The server reported an error and the driver read up to its end:
                    # the connection is clean, unless the error was about the connection.
                    healthy = not isinstance(exc, _LOST)
                    raise
        except UnavailableError:
            # The server may have restarted: idle connections are dead as well, so the
            # pool replaces them instead of failing every caller once.
            self.pool.expire()
            raise
        finally:
            self.pool.release(lent, healthy=healthy)

    def _discarded(self, connection: Direct) -> None:
        self._statements.pop(connection, None)

    def _no_connection(self, what: str) -> UnavailableError:
        if self.pool.open_count >= self.pool.size:
            return UnavailableError(
                f"could not {what}: all {self.pool.size} connections of the pool stayed busy"
                f" for {self._timeout} s (pool_timeout); raise pool_size or pool_timeout, or"
                " look for slow statements"
            )
        return UnavailableError(
            f"could not {what}: no connection to PostgreSQL within {self._timeout} s"
            " (pool_timeout); is the server reachable?"
        )


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """Re-raise driver failures inside the block as eventbook errors."""
    try:
        yield
    except (asyncpg.exceptions.DataError, asyncpg.exceptions._base.DataError) as exc:
        # A value the server (class 22) or the driver's encoder refused.
        raise ValidationError(f"PostgreSQL cannot store this value: {exc}") from None
    except _LOST as exc:
        raise _unavailable(what, exc) from exc


def _unavailable(what: str, exc: BaseException) -> UnavailableError:
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, TimeoutError):
        reason = "PostgreSQL did not answer in time (command_timeout or connect_timeout)"
    log.warning("could not %s: %s", what, reason)
    return UnavailableError(
        f"could not {what}: {reason}. The operation may or may not have taken effect;"
        " an append retried with the same event ids is safe"
    )


def is_lost(exc: BaseException) -> bool:
    """A driver failure that says the server or the connection is gone, not the query."""
    return isinstance(exc, _LOST)


def is_race(exc: BaseException) -> bool:
    """A concurrent append won a unique index or a lock: calling again is the answer."""
    return isinstance(
        exc, asyncpg.UniqueViolationError | asyncpg.exceptions.TransactionRollbackError
    )
