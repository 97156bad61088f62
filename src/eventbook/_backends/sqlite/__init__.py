"""The SQLite event-store backend (stdlib `sqlite3`, write-ahead logging).

Open it with `eventbook.connect("sqlite:///path/to/events.db")` or
`await SQLiteEventStore.open(path, **options)`; see docs/backends/sqlite.md.
"""

from eventbook._backends.sqlite.store import SQLiteEventStore

__all__ = ["SQLiteEventStore"]
