"""One placeholder convention for read-model SQL: `?`, numbered for PostgreSQL, and only
where it is a parameter."""

from __future__ import annotations

import pytest

from eventbook._store.port import EventStore
from eventbook._store.types import NewEvent, RecordedEvent
from eventbook.projections import (
    HandlerMap,
    Projection,
    ProjectionDaemon,
    ProjectionDatabase,
    SqlBatch,
    SqlSink,
    wait_for,
)
from eventbook.projections._placeholders import numbered


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT ?, ?", "SELECT $1, $2"),
        ("SELECT 'why?', ?", "SELECT 'why?', $1"),
        ("SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1"),
        ("SELECT E'it\\'s ?', ?", "SELECT E'it\\'s ?', $1"),
        ('SELECT "odd?name" FROM t WHERE x = ?', 'SELECT "odd?name" FROM t WHERE x = $1'),
        ('SELECT "a""?" FROM t WHERE x = ?', 'SELECT "a""?" FROM t WHERE x = $1'),
        ("SELECT ? -- and why?\n, ?", "SELECT $1 -- and why?\n, $2"),
        ("SELECT /* ? /* ? */ ? */ ?", "SELECT /* ? /* ? */ ? */ $1"),
        ("SELECT $$ ? $$, ?", "SELECT $$ ? $$, $1"),
        ("SELECT $tag$ ?'$ $tag$, ?", "SELECT $tag$ ?'$ $tag$, $1"),
        ("SELECT data ? 'key' FROM t WHERE id = $1", "SELECT data ? 'key' FROM t WHERE id = $1"),
        ("SELECT 1", "SELECT 1"),
    ],
)
def test_only_parameter_marks_are_numbered(sql: str, expected: str) -> None:
    assert numbered(sql) == expected


async def test_a_question_mark_in_a_literal_reaches_the_database_untouched(
    memory_store: EventStore, database: ProjectionDatabase
) -> None:
    handlers: HandlerMap[SqlBatch] = HandlerMap()

    @handlers.on("Asked")
    async def asked(event: RecordedEvent, batch: SqlBatch) -> None:
        batch.execute(
            "INSERT INTO {questions} VALUES (?, 'why?' || ?, ?) -- who? what?",
            (event.stream, event.data["tail"], event.data["n"]),
        )
        seen = await batch.fetchval(
            "SELECT count(*) FROM {questions} WHERE text LIKE '%?%' AND \"n?\" >= ?", (0,)
        )
        batch.execute('UPDATE {questions} SET "n?" = ? WHERE id = ?', (seen, event.stream))

    sink = SqlSink(
        database,
        tables=["questions"],
        schema=['CREATE TABLE {questions} (id TEXT PRIMARY KEY, text TEXT, "n?" INTEGER)'],
    )
    projection = Projection("questions", sink, handlers)
    await memory_store.append("q-1", [NewEvent("Asked", {"tail": "?!", "n": 7})])
    result = await memory_store.append("q-2", [NewEvent("Asked", {"tail": "", "n": 8})])
    async with ProjectionDaemon(memory_store, [projection]):
        await wait_for(projection, result, timeout=10)
    rows = await database.fetch(
        'SELECT id, text, "n?" FROM questions WHERE text <> ? ORDER BY id', ("?",)
    )
    assert [tuple(row) for row in rows] == [("q-1", "why??!", 1), ("q-2", "why?", 2)]
