"""How a SQL batch keeps writes until its flush: which statements it may group out of
order (their footprints), and what it keeps of their parameters."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from eventbook.projections._ports import Session
from eventbook.projections.sinks.sql import SqlBatch, TableNames


def names() -> TableNames:
    return TableNames(["a", "b"], 1, dialect="sqlite")


def test_a_statement_naming_only_the_builds_tables_has_them_as_its_footprint() -> None:
    assert names().lookup("INSERT INTO {a} VALUES (?)")[1] == frozenset({"a_v1"})
    assert names().lookup("UPDATE {a} SET v = (SELECT count(*) FROM {b})")[1] == frozenset(
        {"a_v1", "b_v1"}
    )


def test_a_statement_reaching_a_table_by_another_name_is_never_moved() -> None:
    # through a view named after a table in the schema, or through the readers' view
    assert names().lookup("INSERT INTO {b} SELECT n FROM {a}_count")[1] is None
    assert names().lookup("INSERT INTO {b} SELECT count(*) FROM a")[1] is None


def test_the_parameters_a_handler_passes_are_kept_as_they_were() -> None:
    session = cast(Session, SimpleNamespace(dialect="sqlite"))
    batch = SqlBatch(session, names())
    row: list[Any] = [0, 0]
    for n in range(2):
        row[0], row[1] = n * 10, n
        batch.execute("INSERT INTO {a} VALUES (?, ?)", row)  # the same list, reused
    ((_, rows),) = batch._buffer.groups
    assert rows == [(0, 0), (10, 1)]
