"""Snapshots of aggregates holding personal data: sealed, and unusable once forgotten."""

from __future__ import annotations

from typing import Any

import msgspec

import eventbook
from eventbook import Aggregate, EventRegistry, Repository, snapshot_every
from eventbook.personal import FORGOTTEN, Keyring, MasterKey, MemoryKeyStore, PersonalDataStage
from tests.personal.events import Counted, Registered, registered


class Customer(Aggregate[Registered | Counted]):
    def __init__(self) -> None:
        super().__init__()
        self.name = ""
        self.count = 0

    def apply(self, event: Registered | Counted) -> None:
        match event:
            case Registered(name=name):
                self.name = name
            case Counted(amount=amount):
                self.count += amount

    def to_snapshot(self) -> dict[str, Any]:
        return {"name": self.name, "count": self.count}

    def restore_snapshot(self, state: dict[str, Any]) -> None:
        self.name, self.count = state["name"], state["count"]


def repository(store: eventbook.EventStore, keys: MemoryKeyStore) -> Repository[Customer]:
    stage = PersonalDataStage(Keyring(keys, MasterKey(b"k" * 32)), [Registered, Counted])
    events = EventRegistry([Registered, Counted], stages=[stage])
    return Repository(store, Customer, events, snapshots=snapshot_every(2))


async def test_a_snapshot_is_sealed_and_dropped_from_use_on_forget() -> None:
    store = await eventbook.connect("memory://")
    keys = MemoryKeyStore()
    customers = repository(store, keys)
    customer = customers.new("customer-c-1")
    customer.record(registered())
    customer.record(Counted(5))
    await customers.save(customer)
    assert customers.snapshot_stats.taken == 1
    snapshot = await store.load_snapshot("customer-c-1", schema=Customer().snapshot_tag())
    assert snapshot is not None
    assert "Ada" not in msgspec.json.encode(snapshot.state).decode()

    loaded = await repository(store, keys).load("customer-c-1")  # another process
    assert (loaded.name, loaded.count) == ("Ada Lovelace", 5)
    loaded.record(Counted(1))
    await customers.save(loaded)

    await Keyring(keys, MasterKey(b"k" * 32)).forget("c-1")
    again = repository(store, keys)
    forgotten = await again.load("customer-c-1")  # replayed: the snapshot cannot be opened
    assert (forgotten.name, forgotten.count) == (FORGOTTEN, 6)
    assert again.snapshot_stats.unusable == 0
