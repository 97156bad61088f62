"""eventbook's own read-side rows as records, and the names of lease owners.

`eventbook_projection_checkpoints` holds one row per projection build and partition
(name, version, part; an unpartitioned build has partition 0 only):
its checkpoint (`str(Position)`), its lease (owner, epoch, lease_until), whether readers
see it (active) and its last error. `eventbook_projection_parked` holds dead letters.
Each projection database creates them from its own `queries/create_*.sql`; both select
the columns in the order these functions read them.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventbook._store.types import Position
from eventbook.projections._ports import CheckpointRow, ParkedEvent, ParkedStatus, Row


def checkpoint_row(row: Row) -> CheckpointRow:
    return CheckpointRow(
        name=row[0],
        version=int(row[1]),
        mode=row[2],
        position=None if row[3] is None else Position.parse(row[3]),
        epoch=int(row[4]),
        owner=row[5],
        lease_until=float(row[6]),
        active=bool(row[7]),
        retired=bool(row[8]),
        last_error=row[9],
        last_error_at=row[10],
        updated_at=row[11],
        partition=int(row[12]),
    )


def parked_row(row: Row) -> ParkedEvent:
    return ParkedEvent(
        name=row[0],
        version=int(row[1]),
        event_id=UUID(row[2]),
        position=Position.parse(row[3]),
        stream=row[4],
        type=row[5],
        error=row[6],
        attempts=int(row[7]),
        parked_at=float(row[8]),
        status=ParkedStatus(row[9]),
        partition=int(row[10]),
    )


def parked_values(parked: ParkedEvent) -> tuple[Any, ...]:
    return (
        parked.name,
        parked.version,
        str(parked.event_id),
        str(parked.position),
        parked.stream,
        parked.type,
        parked.error,
        parked.attempts,
        parked.parked_at,
        parked.status.value,
        parked.partition,
    )


def new_owner() -> str:
    """`host:pid:token` — unique per runner; the pid lets a local successor see it died."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def owner_is_dead(owner: str) -> bool:
    """True only when `owner` ran on this host in a process that no longer exists.

    Lets a restarted daemon take over at once after a crash instead of waiting for the
    lease to expire. Any doubt (another host, a reused pid) means "alive": waiting for
    expiry is always safe, because commits are fenced by the lease epoch anyway.
    """
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    # A killed child that its parent has not reaped yet still answers kill(pid, 0).
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def slowest_position(rows: Sequence[CheckpointRow]) -> Position | None:
    """A build's position: that of its slowest partition (None while one has not begun),
    the point up to which every partition has processed every event."""
    positions = [row.position for row in rows]
    if not positions or any(p is None for p in positions):
        return None
    return min(p for p in positions if p is not None)
