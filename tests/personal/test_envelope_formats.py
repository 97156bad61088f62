"""Both envelope formats read back: events sealed in the first format (a list of objects,
JSON values) are still in the stores; events with several subjects take the general path."""

from __future__ import annotations

import base64
import uuid
from typing import Annotated, Any

import msgspec
import pytest

import eventbook
from eventbook import EventRegistry, NewEvent, ValidationError
from eventbook.personal import (
    ENVELOPE,
    FORGOTTEN,
    Keyring,
    MasterKey,
    MemoryKeyStore,
    PersonalData,
    PersonalDataError,
    PersonalDataStage,
    StoredKey,
    sealed_view,
)
from tests.personal.events import Address, Labelled, Registered, registered

# Sealed by the first format's code under MasterKey(b"k" * 32): the data key of "c-1" as
# its key table held it, and two events as the store held them.
FIRST_FORMAT_KEY = StoredKey(
    base64.b64decode(
        "W9u50lkctrgcWwbdfYfD+Lb9lHhNmxAGcIZ/1i+4mCrYwkUpaY0K92xd7Pgaty9Xpf/QF+q9P7LXKjzM"
    ),
    "2d20eeaafead97a1",
)
FIRST_FORMAT_EVENTS = [
    (
        "01a249d5-27c8-702c-9686-dbf2d7beeb99",
        "Registered",
        '{"customer_id":"c-1","address":{},"plan":"gold","$personal":[{"subject":"c-1",'
        '"paths":["name","email","address/street","address/city","address/country"],'
        '"sealed":"5n5nohIDvJ5pE5IB16xOTA6sCQAPK/0GB9c8UnGOHzRxLbhk+oOevlpY3gKFsfn6M9JEpwK'
        'YX7Oubbzgh/EPdjWf233a8D01/IUWZSgDFPzBp7eupIepJ7LGOa5QBk58UXmJ"}]}',
    ),
    (
        "01a249d5-27c8-702d-90f1-49f72c426024",
        "Labelled",
        '{"customer_id":"c-1","$personal":[{"subject":"c-1","paths":["label"],'
        '"sealed":"3H986PytLtrkHJ93dk2ZP0Q84fSaxiMXCcc2J5s8UF5bDiw="}]}',
    ),
]
ADA = [registered(), Labelled("c-1", "vip")]


class Transferred(msgspec.Struct, frozen=True):
    sender_id: str
    receiver_id: str
    sender: Annotated[str, PersonalData(subject="sender_id")]
    receiver: Annotated[str, PersonalData(subject="receiver_id")]
    note: Annotated[str | None, PersonalData(subject="sender_id")]
    amount: int


TYPES = [Registered, Labelled, Transferred]


def stage(keys: MemoryKeyStore, opened_values: int = 100) -> PersonalDataStage:
    return PersonalDataStage(
        Keyring(keys, MasterKey(b"k" * 32)), TYPES, opened_values=opened_values
    )


async def first_format_events() -> tuple[MemoryKeyStore, list[eventbook.RecordedEvent]]:
    keys = MemoryKeyStore()
    await keys.add("c-1", FIRST_FORMAT_KEY)
    store = await eventbook.connect("memory://")
    written = [
        NewEvent(kind, msgspec.json.decode(data), {}, uuid.UUID(id))
        for id, kind, data in FIRST_FORMAT_EVENTS
    ]
    await store.append("customer-1", written)
    return keys, [e async for e in store.read_stream("customer-1")]


@pytest.mark.parametrize("opened_values", [0, 100])
async def test_events_sealed_in_the_first_format_read_back(opened_values: int) -> None:
    keys, raws = await first_format_events()
    personal = stage(keys, opened_values)
    events = EventRegistry(TYPES, stages=[personal])
    assert await events.deserialise(raws) == ADA
    assert await events.deserialise(raws) == ADA  # served from what was kept, if any
    assert personal.opened_count == (2 if opened_values else 0)
    assert sealed_view(raws[0].data)["address"]["city"] == "[sealed: c-1]"
    await personal.forget("c-1")
    assert await events.deserialise(raws) == [
        Registered("c-1", FORGOTTEN, FORGOTTEN, Address(FORGOTTEN, FORGOTTEN, FORGOTTEN), "gold"),
        Labelled("c-1", FORGOTTEN),
    ]


async def test_a_first_format_envelope_moved_to_another_event_fails() -> None:
    keys, (first, second) = await first_format_events()
    events = EventRegistry(TYPES, stages=[stage(keys)])
    assert (await events.deserialise([first]))[0] == ADA[0]  # opened and kept
    moved = msgspec.structs.replace(second, type="Registered", data={**first.data})
    with pytest.raises(PersonalDataError, match="does not decrypt"):
        await events.deserialise([moved])


async def test_new_events_are_sealed_in_the_flat_format() -> None:
    keys, raws = await first_format_events()
    events = EventRegistry(TYPES, stages=[stage(keys)])
    (new,) = await events.serialise("customer-1", [Labelled("c-1", "vip")])
    subject, paths, sealed = new.data[ENVELOPE]
    assert (subject, paths) == ("c-1", "label")
    assert "vip" not in sealed
    store = await eventbook.connect("memory://")
    await store.append("customer-1", [new])
    (read,) = [e async for e in store.read_stream("customer-1")]
    assert await events.deserialise([*raws, read]) == [*ADA, Labelled("c-1", "vip")]


async def test_an_event_with_several_subjects_seals_each_apart() -> None:
    keys = MemoryKeyStore()
    events = EventRegistry(TYPES, stages=[stage(keys)])
    typed = Transferred("c-1", "c-2", "Ada", "Charles", None, 5)
    store = await eventbook.connect("memory://")
    await store.append("transfer-1", await events.serialise("transfer-1", [typed]))
    (raw,) = [e async for e in store.read_stream("transfer-1")]
    envelope: list[Any] = raw.data[ENVELOPE]
    assert envelope[0::3] == ["c-1", "c-2"]
    assert envelope[1::3] == ["sender,note", "receiver"]
    assert "Ada" not in msgspec.json.encode(raw.data).decode()
    assert sealed_view(raw.data)["receiver"] == "[sealed: c-2]"
    assert await events.deserialise([raw]) == [typed]
    await Keyring(keys, MasterKey(b"k" * 32)).forget("c-2")
    forgot = EventRegistry(TYPES, stages=[stage(keys)])
    assert await forgot.deserialise([raw]) == [Transferred("c-1", "c-2", "Ada", FORGOTTEN, None, 5)]
    broken = msgspec.structs.replace(raw, data={**raw.data, ENVELOPE: envelope[:4]})
    with pytest.raises(PersonalDataError, match="neither known shape"):
        await forgot.deserialise([broken])


def test_a_personal_field_whose_name_holds_a_separator_is_refused() -> None:
    class Renamed(msgspec.Struct, frozen=True, rename={"name": "given,family"}):
        customer_id: str
        name: Annotated[str, PersonalData(subject="customer_id")]

    with pytest.raises(ValidationError, match="cannot hold"):
        PersonalDataStage(Keyring(MemoryKeyStore(), MasterKey(b"k" * 32)), [Renamed])
