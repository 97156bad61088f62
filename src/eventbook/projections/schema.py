"""eventbook's own read-side tables, and turning their rows into records.

`eventbook_projection_checkpoints` holds one row per projection build (name, version):
its checkpoint (`str(Position)`), its lease (owner, epoch, lease_until), whether readers
see it (active) and its last error. `eventbook_projection_parked` holds dead letters.
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any
from uuid import UUID

from eventbook.projections.ports import CheckpointRow, ParkedEvent, ParkedStatus, Row
from eventbook.store import Position

CHECKPOINTS = "eventbook_projection_checkpoints"
PARKED = "eventbook_projection_parked"

_TYPES = {
    "sqlite": {"int": "INTEGER", "float": "REAL", "bool": "INTEGER", "false": "0"},
    "postgresql": {
        "int": "BIGINT",
        "float": "DOUBLE PRECISION",
        "bool": "BOOLEAN",
        "false": "false",
    },
}


def create_tables(dialect: str) -> list[str]:
    t = _TYPES[dialect]
    return [
        f"""CREATE TABLE IF NOT EXISTS {CHECKPOINTS} (
            name TEXT NOT NULL,
            version {t["int"]} NOT NULL,
            mode TEXT NOT NULL DEFAULT 'async',
            position TEXT,
            epoch {t["int"]} NOT NULL DEFAULT 0,
            owner TEXT,
            lease_until {t["float"]} NOT NULL DEFAULT 0,
            active {t["bool"]} NOT NULL DEFAULT {t["false"]},
            retired {t["bool"]} NOT NULL DEFAULT {t["false"]},
            last_error TEXT,
            last_error_at {t["float"]},
            updated_at {t["float"]},
            PRIMARY KEY (name, version))""",
        f"""CREATE TABLE IF NOT EXISTS {PARKED} (
            name TEXT NOT NULL,
            version {t["int"]} NOT NULL,
            event_id TEXT NOT NULL,
            position TEXT NOT NULL,
            stream TEXT NOT NULL,
            type TEXT NOT NULL,
            error TEXT NOT NULL,
            attempts {t["int"]} NOT NULL,
            parked_at {t["float"]} NOT NULL,
            status TEXT NOT NULL,
            PRIMARY KEY (name, version, event_id))""",
        # A runner asks for the event halting its build at every lease it takes, and the
        # status counts a build's parked events: neither reads the parked rows themselves.
        f"""CREATE INDEX IF NOT EXISTS {PARKED}_status ON {PARKED} (name, version, status)""",
    ]


CHECKPOINT_COLUMNS = (
    "name, version, mode, position, epoch, owner, lease_until, active, retired,"
    " last_error, last_error_at, updated_at"
)
PARKED_COLUMNS = (
    "name, version, event_id, position, stream, type, error, attempts, parked_at, status"
)
PARKED_SUMMARY = (
    "count(*), coalesce(sum(CASE WHEN status IN ('halted', 'discard') THEN 1 ELSE 0 END), 0)"
)
"""A build's parked events, counted, and how many of them halt it."""


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
