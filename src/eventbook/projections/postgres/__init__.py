"""The PostgreSQL projection database: checkpoints, leases (advisory locks) and dead
letters in one schema, with same-database read models beside them. Imports asyncpg.

- `database.py`: `PostgresDatabase`, the `ProjectionDatabase` of this folder;
- `session.py`: one runner's connection and lock on one build;
- `connection.py`: connection types, advisory-lock keys, flushing buffered writes;
- `sql.py` with `queries/*.sql`: every statement, one operation per file.

Import it from `eventbook.projections` (which imports asyncpg only on that first use);
the modules here are not public API.
"""

from eventbook.projections.postgres.database import PostgresDatabase
from eventbook.projections.postgres.session import PostgresSession

__all__ = ["PostgresDatabase", "PostgresSession"]
