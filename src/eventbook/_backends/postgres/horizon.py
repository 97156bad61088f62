"""The cost of the gap-safe global order, as a value an operator can read.

Readers see only events of transactions below the visibility horizon: the oldest
transaction id still open anywhere in the cluster. A transaction that stays open holds
back every event committed after it started writing, in every schema.
"""

from __future__ import annotations

import msgspec

HELD_COUNT_LIMIT = 100_000
"""`held_back_events` counts up to this many, to keep the look cheap when it is large."""


class OrderingLag(msgspec.Struct, frozen=True):
    """What the visibility horizon costs readers right now."""

    horizon: int
    """Events of transactions below this id are visible to `read_all` and `subscribe`."""
    next_transaction: int
    """The next transaction id PostgreSQL will hand out."""
    held_back_events: int
    """Committed events readers cannot see yet (counted up to `HELD_COUNT_LIMIT`)."""
    held_back_seconds: float
    """Age of the oldest of them (by `recorded_at`): how far readers lag; 0 when none."""
    holder_pid: int | None
    """Backend pid of the oldest open transaction holding a transaction id, if any."""
    holder_application: str | None
    """Its application_name (or `prepared transaction <gid>`)."""
    holder_state: str | None
    """Its state, e.g. `idle in transaction`: often the culprit."""
    holder_seconds: float | None
    """How long that transaction has been open."""

    @property
    def transactions_behind(self) -> int:
        """Transaction ids handed out since the horizon: how far it trails the newest."""
        return self.next_transaction - self.horizon
