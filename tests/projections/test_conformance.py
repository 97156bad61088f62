"""Both projection databases keep the one contract (eventbook.testing's suite), on real
servers: a SQLite file, a PostgreSQL schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from eventbook import projections
from eventbook.projections import ProjectionDatabase
from eventbook.testing import ProjectionDatabaseConformance
from tests.conftest import PostgresForTests


class TestSQLiteDatabase(ProjectionDatabaseConformance):
    @pytest_asyncio.fixture
    async def projection_database(self, tmp_path: Path) -> AsyncIterator[ProjectionDatabase]:
        database = await projections.open(f"sqlite:///{tmp_path}/read.db")
        yield database
        await database.close()


class TestPostgresDatabase(ProjectionDatabaseConformance):
    @pytest_asyncio.fixture
    async def projection_database(
        self, postgres: PostgresForTests, postgres_schema: str
    ) -> AsyncIterator[ProjectionDatabase]:
        database = await projections.open(postgres.store_url(postgres_schema))
        yield database
        await database.close()
