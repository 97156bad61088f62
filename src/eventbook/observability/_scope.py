"""What the instrumented store tells the command and load around it (context variables).

The store's wrappers cannot see which command or aggregate load they serve; these
scopes let them report conflicts and replayed events to the one that is running.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from eventbook.observability._tracing import tracing_configured


@dataclass(slots=True)
class CommandScope:
    traced: bool
    """Whether spans are made (an SDK is in place), asked once per command."""
    conflicts: int = 0


@dataclass(slots=True)
class LoadScope:
    events: int = 0


command_scope: ContextVar[CommandScope | None] = ContextVar("eventbook_command", default=None)
load_scope: ContextVar[LoadScope | None] = ContextVar("eventbook_load", default=None)


def spans_wanted() -> bool:
    """The running command's answer to `tracing_configured()`, or a fresh one outside it."""
    scope = command_scope.get()
    return scope.traced if scope is not None else tracing_configured()
