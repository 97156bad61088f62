"""What the instrumented store tells the traced command around it (a context variable).

The store's wrappers cannot see which command they serve; this scope lets them report
conflicts to the traced command that is running, for its outcome (`conflict_retried`).
On the cheap path the bus counts its own retries, and the repository counts a load's
replayed events itself.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(slots=True)
class CommandScope:
    conflicts: int = 0


command_scope: ContextVar[CommandScope | None] = ContextVar("eventbook_command", default=None)
