"""The SQLite projection database: checkpoints, leases and dead letters in one SQLite
file, with same-database read models beside them.

- `database.py`: `SQLiteDatabase`, the `ProjectionDatabase` of this folder;
- `session.py`: one runner's connection thread and lease on one build;
- `connection.py`: connections as the read side opens them, and flushing buffered writes;
- `sql.py` with `queries/*.sql`: every statement, one operation per file.

Import it from `eventbook.projections`; the modules here are not public API.
"""

from eventbook.projections.sqlite.database import SQLiteDatabase
from eventbook.projections.sqlite.session import SQLiteSession

__all__ = ["SQLiteDatabase", "SQLiteSession"]
