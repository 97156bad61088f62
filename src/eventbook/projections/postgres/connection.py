"""PostgreSQL helpers of the read side: connection types, advisory-lock keys, flushing."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeAlias

import asyncpg

from eventbook.projections._buffer import Group

Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record]"
Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"


def lock_key(text: str) -> int:
    """A stable signed 64-bit advisory-lock key for `text` (which names the schema:
    advisory locks are per database, and each schema holds its own projections)."""
    digest = hashlib.blake2b(f"eventbook:{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def flush(conn: Connection, groups: Sequence[Group]) -> None:
    """Run buffered writes: one pipelined `executemany` per group of identical statements."""
    for sql, rows in groups:
        if len(rows) == 1:
            await conn.execute(sql, *rows[0])
        else:
            await conn.executemany(sql, rows)
