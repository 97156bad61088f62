"""What the instrumented store tells the traced command around it (a context variable).

The store's wrappers cannot see which command they serve; this scope lets them report
conflicts to the one that is running, and the load and the append inside it read whether
it is traced. (The repository counts a load's replayed events itself.)
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


command_scope: ContextVar[CommandScope | None] = ContextVar("eventbook_command", default=None)
