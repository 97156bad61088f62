"""The PostgreSQL event store (PostgreSQL 15+, asyncpg): `pip install eventbook[postgres]`."""

from eventbook.backends.postgres.horizon import OrderingLag
from eventbook.backends.postgres.options import PostgresOptions
from eventbook.backends.postgres.store import PostgresEventStore

__all__ = ["OrderingLag", "PostgresEventStore", "PostgresOptions"]
