"""`import_events` on SQLite: a whole import in one write transaction, in the writer thread.

Runs as a writer job (not an append group): it takes the write lock, checks that every
stream is at the version just before its imported events, and inserts every row in the
order given, keeping each event's `recorded_at`. All or nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

from eventbook._backends.sqlite.appends import (
    AppendHook,
    _Row,
    group_start,
    insert_rows,
    rows_of,
)
from eventbook._backends.sqlite.documents import decode_documents
from eventbook._errors import ValidationError
from eventbook._store.encoding import expected_number, import_refused
from eventbook._store.lifecycle import refuse_deleted
from eventbook._store.types import EncodedBatch


def import_batches(
    connection: sqlite3.Connection, batches: Sequence[EncodedBatch], hooks: Sequence[AppendHook]
) -> int:
    """Write `batches` in one transaction; returns how many events were written.

    Without hooks every row goes in with a few multi-row statements at the end: an import
    of interleaved streams is one batch per event, and a statement per batch would cost
    three times what the rows do. With hooks each batch is inserted, then its hooks run,
    as for an append."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        next_position, versions, marks = group_start(connection, [b.stream for b in batches])
        recorded_at = datetime.now(UTC)
        pending: list[_Row] = []
        for batch in batches:
            refuse_deleted(batch.stream, marks.get(batch.stream))
            current, wanted = versions.get(batch.stream, 0), expected_number(batch.expected)
            if current != wanted:
                raise import_refused(batch.stream, current, wanted)
            documents, rows = rows_of(batch, current, next_position, recorded_at)
            pending.extend(rows)
            if hooks:
                _insert(connection, pending)
                pending = []
                for hook in hooks:
                    hook(connection, decode_documents(documents))
            versions[batch.stream] = current + len(rows)
            next_position += len(rows)
        _insert(connection, pending)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return sum(len(batch.events) for batch in batches)


def _insert(connection: sqlite3.Connection, rows: list[_Row]) -> None:
    try:
        insert_rows(connection, rows)
    except sqlite3.IntegrityError as exc:  # versions are checked: an id is taken
        raise ValidationError(f"cannot import: an event id is stored already ({exc})") from None
