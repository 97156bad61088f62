"""The SQL of the SQLite projection database, read from the `.sql` files beside this module.

Each statement lives in its own file under `queries/` (one operation per file), as the
store's backends keep theirs. Files are read on first use, not at import.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from eventbook._sql_files import read_folder


@dataclass(frozen=True, slots=True)
class Queries:
    """One attribute per file in `queries/`, named after the file."""

    create_checkpoints: str
    create_parked: str
    create_parked_status: str
    build_mode: str
    insert_build: str
    active_build: str
    mark_active: str
    lease_holder: str
    take_lease: str
    checkpoint: str
    checkpoints: str
    parked: str
    parked_summary: str
    set_parked_status: str
    count_parked_attempt: str
    delete_parked: str
    delete_build_parked: str
    reset_build: str
    build_flags: str
    switch_active: str
    retire_older: str
    delete_build: str
    renew_lease: str
    move_checkpoint: str
    park: str
    note_parked_error: str
    record_error: str
    halted: str
    release_lease: str
    build_partitions: str
    create_members: str
    heartbeat: str
    live_members: str
    forget_members: str
    leave: str
    delete_build_members: str
    table_columns: str
    add_parked_part: str
    migrate_checkpoints: str
    copy_old_checkpoints: str
    drop_old_checkpoints: str


@functools.cache
def queries() -> Queries:
    return Queries(**read_folder(__package__))
