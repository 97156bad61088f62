"""The PostgreSQL event store: the shared contract, then what is particular to it."""

from __future__ import annotations

import pytest

from eventbook.testing import EventStoreConformance
from tests.conftest import PostgresForTests


class TestPostgresStore(EventStoreConformance):
    @pytest.fixture
    def store_url(self, postgres: PostgresForTests, postgres_schema: str) -> str:
        return postgres.store_url(postgres_schema)
