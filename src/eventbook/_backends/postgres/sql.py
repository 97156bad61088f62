"""The SQL this backend runs, one operation per file, bound to one schema."""

from __future__ import annotations

import functools
import re
from importlib import resources

from eventbook._sql_files import render

SCHEMA_PATTERN = re.compile(r"[a-z_][a-z0-9_]{0,47}")
"""Schema names: lower-case identifiers, short enough to build a NOTIFY channel from."""


@functools.cache
def _template(folder: str, name: str) -> str:
    return resources.files(__package__).joinpath(folder, name).read_text(encoding="utf-8")


class Queries:
    """Every query of the store, rendered once for its schema."""

    def __init__(self, schema: str) -> None:
        def load(name: str) -> str:
            return render(_template("queries", f"{name}.sql"), schema)

        self.append = load("append")
        self.append_one = load("append_one")
        self.append_recorded = load("append_recorded")
        self.import_events = load("import")
        self.stream_versions = load("stream_versions")
        self.list_streams = load("list_streams")
        self.events_per_type = load("events_per_type")
        self.stream_count = load("stream_count")
        self.database_size = load("database_size")
        self.read_all = load("read_all")
        self.read_all_filtered = load("read_all_filtered")
        self.read_stream_forwards = load("read_stream_forwards")
        self.read_stream_backwards = load("read_stream_backwards")
        self.replay_stream = load("replay_stream")
        self.read_event = load("read_event")
        self.refusal = load("refusal")
        self.stream_version = load("stream_version")
        self.head = load("head")
        self.held_back = load("held_back")
        self.save_snapshot = load("save_snapshot")
        self.load_snapshot = load("load_snapshot")
        self.notify = load("notify")
        self.ordering_lag = load("ordering_lag")
        self.stream_marks = load("stream_marks")
        self.stream_marks_of = load("stream_marks_of")
        self.save_marks = load("save_marks")
        self.forget_marks = load("forget_marks")
        self.reopen_stream = load("reopen_stream")
        self.remove_events = load("remove_events")
        self.remove_snapshots = load("remove_snapshots")
        self.newest_snapshot = load("newest_snapshot")
        self.retained_streams = load("retained_streams")
        self.lock_for_lifecycle = load("lock_for_lifecycle")
        self.migration_setup = load("migration_setup")
        self.migration_no_timeout = load("migration_no_timeout")
        self.migration_lock = load("migration_lock")
        self.migration_ledger_exists = load("migration_ledger_exists")
        self.migration_ledger = load("migration_ledger")
        self.migration_record = load("migration_record")
