"""What the instrumented store tells the command and load around it (context variables).

The store's wrappers cannot see which command or aggregate load they serve; these
scopes let them report conflicts and replayed events to the one that is running.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(slots=True)
class CommandScope:
    traced: bool
    """Whether spans are made (an SDK is in place), asked once per command: the load and
    the append inside it read this (or, outside a command, `tracing_configured()`)."""
    conflicts: int = 0


@dataclass(slots=True)
class LoadScope:
    events: int = 0


command_scope: ContextVar[CommandScope | None] = ContextVar("eventbook_command", default=None)
load_scope: ContextVar[LoadScope | None] = ContextVar("eventbook_load", default=None)
