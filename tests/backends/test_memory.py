from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from eventbook._backends.memory import MemoryEventStore
from eventbook._errors import ValidationError
from eventbook._store.port import EventStore
from eventbook._store.types import Position
from eventbook.testing import EventStoreConformance


class TestMemoryStore(EventStoreConformance):
    @pytest.fixture
    def store_url(self) -> None:
        return None

    @pytest_asyncio.fixture
    async def store(self, store_url: None) -> AsyncIterator[EventStore]:
        async with MemoryEventStore() as store:
            yield store


async def test_a_position_from_a_store_with_several_sequences_is_refused() -> None:
    async with MemoryEventStore() as store:
        with pytest.raises(ValidationError, match="does not come from a memory store"):
            [e async for e in store.read_all(after=Position(5, 1))]
