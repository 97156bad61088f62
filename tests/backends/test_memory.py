from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from eventbook.backends.memory import MemoryEventStore
from eventbook.store import EventStore
from eventbook.testing import EventStoreConformance


class TestMemoryStore(EventStoreConformance):
    @pytest.fixture
    def store_url(self) -> None:
        return None

    @pytest_asyncio.fixture
    async def store(self, store_url: None) -> AsyncIterator[EventStore]:
        async with MemoryEventStore() as store:
            yield store
