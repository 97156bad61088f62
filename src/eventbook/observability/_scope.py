"""What the instrumented store tells the command and load around it (context variables).

The store's wrappers cannot see which command or aggregate load they serve; these
scopes let them report conflicts and replayed events to the one that is running.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class CommandScope:
    traced: bool
    """Whether spans are made (an SDK is in place), asked once per command: the load and
    the append inside it read this (or, outside a command, `tracing_configured()`)."""
    conflicts: int = 0


@dataclass(slots=True)
class LoadScope:
    events: int = 0
    read_to: int = 0
    """The newest version counted: a replay that reads events again in full (see
    `Repository._typed`) does not count them twice."""

    def count(self, page: list[Any], backwards: bool) -> None:
        if not page:
            return
        if backwards:
            self.events += len(page)
            return
        last = page[-1].version
        fresh = last - max(self.read_to, page[0].version - 1)
        if fresh > 0:
            self.events += fresh
            self.read_to = last


command_scope: ContextVar[CommandScope | None] = ContextVar("eventbook_command", default=None)
load_scope: ContextVar[LoadScope | None] = ContextVar("eventbook_load", default=None)
