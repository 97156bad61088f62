"""`import_events` on SQLite: a whole import in one write transaction, in the writer thread.

Runs as a writer job (not an append group): it takes the write lock, checks that every
stream is at the version just before its imported events, and inserts every row in the
order given, keeping each event's `recorded_at`. All or nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

from eventbook._backends.sqlite.appends import AppendHook, group_start, insert_rows, rows_of
from eventbook._backends.sqlite.documents import decode_documents
from eventbook._errors import ValidationError
from eventbook._store.encoding import expected_number, import_refused
from eventbook._store.types import EncodedBatch


def import_batches(
    connection: sqlite3.Connection, batches: Sequence[EncodedBatch], hooks: Sequence[AppendHook]
) -> int:
    """Write `batches` in one transaction; returns how many events were written."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        next_position, versions = group_start(connection, [b.stream for b in batches])
        written = 0
        for batch in batches:
            current, wanted = versions.get(batch.stream, 0), expected_number(batch.expected)
            if current != wanted:
                raise import_refused(batch.stream, current, wanted)
            documents, rows = rows_of(batch, current, next_position, datetime.now(UTC))
            try:
                insert_rows(connection, rows)
            except sqlite3.IntegrityError as exc:  # versions are checked: an id is taken
                raise ValidationError(
                    f"cannot import into {batch.stream!r}: an event id is stored already ({exc})"
                ) from None
            for hook in hooks:
                hook(connection, decode_documents(documents))
            versions[batch.stream] = current + len(rows)
            next_position += len(rows)
            written += len(rows)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return written
