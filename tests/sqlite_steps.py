"""Counting the virtual-machine steps SQLite takes: how tests show that a query's cost does
not grow with a table, deterministically, without timing anything."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


class Steps:
    count = 0


@contextmanager
def counting_steps(connection: sqlite3.Connection) -> Iterator[Steps]:
    """`with counting_steps(connection) as steps: ...`, then `steps.count`."""
    steps = Steps()

    def step() -> int:
        steps.count += 1
        return 0  # go on

    connection.set_progress_handler(step, 1)
    try:
        yield steps
    finally:
        connection.set_progress_handler(None, 1)
