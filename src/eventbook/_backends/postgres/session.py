"""A lent connection that runs each query as a prepared statement kept for it.

Preparing once per connection and keeping the statement object skips the driver's
per-call statement-cache lookup; on a busy writer that is a sizeable share of the client's
work per append.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import asyncpg

if TYPE_CHECKING:
    from asyncpg.prepared_stmt import PreparedStatement

    from eventbook._backends.postgres.direct import Direct

    Statement = PreparedStatement[asyncpg.Record]

_STALE = (
    asyncpg.exceptions.InvalidCachedStatementError,
    asyncpg.exceptions.OutdatedSchemaCacheError,
)


class Session:
    """One connection, lent by the pool for one operation."""

    __slots__ = ("_statements", "connection")

    def __init__(self, connection: Direct, statements: dict[str, Statement]) -> None:
        self.connection = connection
        self._statements = statements

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        try:
            return await (await self._prepared(query)).fetch(*args)
        except _STALE:  # the schema changed under the statement: prepare it again
            self._statements.pop(query, None)
            return await (await self._prepared(query)).fetch(*args)

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        try:
            return await (await self._prepared(query)).fetchrow(*args)
        except _STALE:
            self._statements.pop(query, None)
            return await (await self._prepared(query)).fetchrow(*args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        row = await self.fetchrow(query, *args)
        return None if row is None else row[0]

    async def _prepared(self, query: str) -> Statement:
        statement = self._statements.get(query)
        if statement is None:
            statement = await self.connection.prepare(query)
            self._statements[query] = statement
        return statement
