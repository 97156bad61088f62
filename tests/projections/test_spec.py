"""ProjectionSpec: given events, then rows, against each real projection database."""

from __future__ import annotations

import pytest

from eventbook._errors import ValidationError
from eventbook._store.types import NewEvent
from eventbook.projections import ProjectionDatabase
from eventbook.testing import ProjectionSpec
from tests.projections.models import orders_projection


async def test_given_events_then_the_rows_a_reader_sees(database: ProjectionDatabase) -> None:
    spec = ProjectionSpec(orders_projection(database))
    try:
        await spec.given("order-1", NewEvent("OrderPlaced", {"customer": "ada", "total": 10}))
        await spec.then("SELECT id, total, status FROM orders", [("order-1", 10, "placed")])
        await spec.given(
            "order-1", NewEvent("ItemAdded", {"amount": 5}), NewEvent("OrderShipped", {})
        )
        await spec.then(
            "SELECT id, total, status, events FROM orders WHERE customer = ?",
            [("order-1", 15, "shipped", 3)],
            ("ada",),
        )
        assert await spec.rows("SELECT events, sum FROM totals") == [(3, 15)]
    finally:
        await spec.close()


async def test_rows_that_differ_say_what_was_expected_and_found(
    database: ProjectionDatabase,
) -> None:
    spec = ProjectionSpec(orders_projection(database))
    try:
        await spec.given("order-1", NewEvent("OrderPlaced", {"customer": "ada", "total": 10}))
        with pytest.raises(AssertionError, match=r"expected \[\('order-1', 99\)\]\n.*found .*10"):
            await spec.then("SELECT id, total FROM orders", [("order-1", 99)])
        with pytest.raises(ValidationError, match="at least one event"):
            await spec.given("order-1")
    finally:
        await spec.close()
