"""The write buffer: read-model writes recorded by handlers, flushed once per batch.

Handlers call `batch.execute(sql, params)`; nothing reaches the database until the
runner commits the batch together with its checkpoint. Consecutive writes with the
same statement are grouped, so the flush is one `executemany` per group instead of one
round trip per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Params = Sequence[Any]
Group = tuple[str, list[Params]]


class WriteBuffer:
    """An ordered list of (statement, rows) groups."""

    __slots__ = ("groups",)

    def __init__(self) -> None:
        self.groups: list[Group] = []

    def add(self, sql: str, params: Params) -> None:
        groups = self.groups
        # Statements come from a cache, so the identity test is the common, cheap case.
        if groups and (groups[-1][0] is sql or groups[-1][0] == sql):
            groups[-1][1].append(params)
        else:
            groups.append((sql, [params]))

    def take(self) -> list[Group]:
        """Hand over the recorded groups and start empty."""
        groups, self.groups = self.groups, []
        return groups

    def __len__(self) -> int:
        return sum(len(rows) for _, rows in self.groups)

    def __bool__(self) -> bool:
        return bool(self.groups)
