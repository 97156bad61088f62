"""The PostgreSQL event store (PostgreSQL 15+, asyncpg): `pip install eventbook[postgres]`."""

from eventbook._backends.postgres.horizon import OrderingLag
from eventbook._backends.postgres.options import PostgresOptions
from eventbook._backends.postgres.store import PostgresEventStore

__all__ = ["OrderingLag", "PostgresEventStore", "PostgresOptions"]
