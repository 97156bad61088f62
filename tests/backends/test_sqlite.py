"""The SQLite backend: the shared conformance suite on a file and in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from eventbook.connect import connect
from eventbook.store import EventStore
from eventbook.testing import EventStoreConformance


class TestSQLiteFile(EventStoreConformance):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path}/events.db"


class TestSQLiteMemory(EventStoreConformance):
    """`:memory:` lives in one connection: the tests needing a second one are skipped."""

    @pytest.fixture
    def store_url(self) -> None:
        return None

    @pytest_asyncio.fixture
    async def store(self, store_url: None) -> AsyncIterator[EventStore]:
        async with await connect("sqlite://:memory:") as store:
            yield store
