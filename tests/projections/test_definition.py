"""Plain logic: projection definitions, the write buffer's grouping, table names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eventbook._errors import ValidationError
from eventbook._store.ids import uuid7
from eventbook._store.types import Position, RecordedEvent
from eventbook.projections import HandlerMap, HandlerRetry, Projection, SqlBatch
from eventbook.projections._buffer import WriteBuffer
from eventbook.projections.sinks.redis_streams import marker
from eventbook.projections.sinks.sql import TableNames


class _Sink:
    database = None


def test_handler_maps_refuse_a_second_handler_for_a_type() -> None:
    handlers: HandlerMap[SqlBatch] = HandlerMap()
    handlers.on("A", "B")(lambda e, b: None)
    with pytest.raises(ValidationError, match="'B' is registered already"):
        handlers.on("B")(lambda e, b: None)
    assert set(handlers) == {"A", "B"}


@pytest.mark.parametrize(
    ("name", "version", "handlers", "message"),
    [
        ("1st", 1, {"A": print}, "must start with a letter"),
        ("ok", 0, {"A": print}, "version must be 1 or more"),
        ("ok", True, {"A": print}, "version must be an int"),
        ("ok", 1, {}, "needs at least one handler"),
        ("ok", 1, {"A": "not callable"}, "not callable"),
    ],
)
def test_bad_projections_are_refused(
    name: str, version: int, handlers: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Projection(name, _Sink(), handlers, version=version)  # type: ignore[arg-type]


def test_the_store_filters_by_type_unless_an_upcaster_may_rename() -> None:
    plain = Projection("p", _Sink(), {"A": print, "B": print})  # type: ignore[arg-type]
    assert plain.read_filter() == (frozenset({"A", "B"}), None)
    upcasting = Projection("p", _Sink(), {"A": print}, upcast=lambda e: e)  # type: ignore[arg-type]
    assert upcasting.read_filter() == (None, None)
    narrowed = Projection("p", _Sink(), {"A": print}, categories=frozenset({"order"}))  # type: ignore[arg-type]
    assert narrowed.read_filter() == (frozenset({"A"}), frozenset({"order"}))


def test_retry_delays_double_up_to_the_cap() -> None:
    policy = HandlerRetry(max_attempts=6, backoff=0.5, max_backoff=3)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    with pytest.raises(ValidationError):
        HandlerRetry(max_attempts=0)


def test_identical_statements_are_grouped_in_order() -> None:
    buffer = WriteBuffer()
    a, b = "INSERT INTO a_v1 VALUES (?)", "UPDATE a_v1 SET x = ?"
    for n in range(3):
        buffer.add(a, (n,), frozenset({"a_v1"}))
    buffer.add(b, (9,), frozenset({"a_v1"}))
    buffer.add(a, (3,), frozenset({"a_v1"}))
    # Same table: the later insert must stay after the update.
    assert buffer.take() == [(a, [(0,), (1,), (2,)]), (b, [(9,)]), (a, [(3,)])]
    assert not buffer


def test_writes_to_other_tables_group_across_each_other() -> None:
    buffer = WriteBuffer()
    log, total = "INSERT INTO log_v1 VALUES (?)", "UPDATE totals_v1 SET n = n + ?"
    for n in range(4):
        buffer.add(log, (n,), frozenset({"log_v1"}))
        buffer.add(total, (1,), frozenset({"totals_v1"}))
    assert buffer.take() == [(log, [(0,), (1,), (2,), (3,)]), (total, [(1,)] * 4)]


def test_a_statement_of_unknown_reach_is_never_moved_past() -> None:
    buffer = WriteBuffer()
    log, other = "INSERT INTO log_v1 VALUES (?)", "DELETE FROM elsewhere"
    buffer.add(log, (1,), frozenset({"log_v1"}))
    buffer.add(other, (), None)
    buffer.add(log, (2,), frozenset({"log_v1"}))
    assert len(buffer.take()) == 3


def test_table_names_resolve_placeholders_and_footprints() -> None:
    names = TableNames(["orders", "lines"], 3, dialect="sqlite")
    sql, footprint = names.lookup("INSERT INTO {orders} SELECT * FROM {lines} WHERE x = '{other}'")
    assert sql == "INSERT INTO orders_v3 SELECT * FROM lines_v3 WHERE x = '{other}'"
    assert footprint == frozenset({"orders_v3", "lines_v3"})
    assert names.lookup("SELECT 1")[1] is None
    assert (
        TableNames(["orders"], 1, dialect="sqlite", reorder=False).lookup("DELETE FROM {orders}")[1]
        is None
    )


def test_redis_markers_sort_like_positions() -> None:
    now = datetime.now(UTC)

    def at(major: int, minor: int) -> RecordedEvent:
        return RecordedEvent(uuid7(), "s-1", 1, Position(major, minor), "T", {}, {}, now)

    ordered = [marker(at(0, 9), 0), marker(at(0, 10), 0), marker(at(0, 10), 1), marker(at(2, 1), 0)]
    assert sorted(ordered) == ordered


def test_a_name_public_in_both_eventbook_and_its_read_side_means_one_thing() -> None:
    import eventbook
    import eventbook.projections

    shared = set(eventbook.__all__) & set(eventbook.projections.__all__)
    different = {
        name
        for name in shared
        if getattr(eventbook, name) is not getattr(eventbook.projections, name)
    }
    assert different == set()
