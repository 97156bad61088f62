"""Every sort of the order list, alone and after a status filter, runs down an index: a
page costs the same with 100 orders as with 5,000. So does a page of the largest streams.
Counted in SQLite virtual-machine steps (deterministic), not timed."""

from __future__ import annotations

import sqlite3

import pytest
from apps.orders.queries import ORDER_COLUMNS, SORTS, STREAMS_PAGE
from apps.orders.read_models.order_list import SCHEMA
from apps.orders.read_models.store_stats import SCHEMA as STORE_SCHEMA

from tests.sqlite_steps import counting_steps

STATUSES = ("placed", "paid", "shipped", "cancelled")


def _orders(count: int) -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    for statement in SCHEMA:
        connection.execute(statement.format(orders="orders", order_lines="order_lines"))
    connection.executemany(
        "INSERT INTO orders VALUES (?, ?, ?, 'EUR', ?, 0, 1, 'a', 'b', 'c', NULL, ?, ?, 1, '1')",
        [
            (
                f"order-{n}",
                f"customer-{n % 97}",
                STATUSES[n % 4],
                (n * 7919) % 100_000,
                f"2026-01-{10 + n % 17}T{n % 24:02d}",
                f"2026-02-{10 + n % 13}T{n % 24:02d}",
            )
            for n in range(count)
        ],
    )
    return connection


def _steps(connection: sqlite3.Connection, sql: str, parameters: list[str]) -> int:
    with counting_steps(connection) as steps:
        connection.execute(sql, parameters).fetchall()
    return steps.count


@pytest.mark.parametrize("sort", sorted(SORTS))
@pytest.mark.parametrize("status", [None, "paid"])
def test_a_page_of_the_list_costs_the_same_however_many_orders(
    sort: str, status: str | None
) -> None:
    where, parameters = (" WHERE status = ?", [status]) if status else ("", [])
    sql = f"SELECT {ORDER_COLUMNS} FROM orders{where} ORDER BY {SORTS[sort]} LIMIT 25"
    few, many = _orders(100), _orders(5_000)
    assert _steps(many, sql, parameters) <= _steps(few, sql, parameters) + 50


def test_a_page_of_the_largest_streams_costs_the_same_however_many_streams() -> None:
    def streams(count: int) -> sqlite3.Connection:
        connection = sqlite3.connect(":memory:")
        for statement in STORE_SCHEMA:
            connection.execute(
                statement.format(
                    streams="streams", event_types="event_types", recent_events="recent_events"
                )
            )
        connection.executemany(  # equal sizes: the worst case for the tie-break
            "INSERT INTO streams VALUES (?, 'order', 4, 'OrderPlaced', '2026-01-01')",
            [(f"order-{n}",) for n in range(count)],
        )
        return connection

    few, many = streams(100), streams(5_000)
    assert _steps(many, STREAMS_PAGE, ["25", "0"]) <= _steps(few, STREAMS_PAGE, ["25", "0"]) + 50
