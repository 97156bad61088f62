"""The personal-data stage on the memory store: sealing, reading back, forgetting."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import msgspec
import pytest

import eventbook
from eventbook import EventRegistry, ValidationError
from eventbook.personal import (
    ENVELOPE,
    FORGOTTEN,
    DataKeyMissing,
    Keyring,
    MasterKey,
    MasterKeyError,
    MemoryKeyStore,
    PersonalData,
    PersonalDataStage,
    SubjectForgotten,
)
from tests.personal.events import (
    Address,
    Counted,
    Labelled,
    Moved,
    Parcel,
    Registered,
    Shipped,
    registered,
)

ALL = [Registered, Moved, Counted, Labelled, Shipped]


def registry(keys: MemoryKeyStore, master: MasterKey | None = None) -> EventRegistry:
    keyring = Keyring(keys, master or MasterKey(b"k" * 32))
    return EventRegistry(ALL, stages=[PersonalDataStage(keyring, ALL)])


async def stored(events: EventRegistry, *typed: object) -> list[eventbook.RecordedEvent]:
    store = await eventbook.connect("memory://")
    await store.append("customer-1", await events.serialise("customer-1", list(typed)))
    return [e async for e in store.read_stream("customer-1")]


async def test_marked_fields_are_sealed_and_read_back() -> None:
    events = registry(MemoryKeyStore())
    (raw,) = await stored(events, registered())
    text = msgspec.json.encode(raw.data).decode()
    for secret in ("Ada", "ada@example.org", "Analytical", "London"):
        assert secret not in text
    assert raw.data["customer_id"] == "c-1"
    assert raw.data["plan"] == "gold"
    assert raw.data["address"] == {}  # the whole Address is marked
    subject, paths, _ = raw.data[ENVELOPE]
    assert subject == "c-1"
    assert paths == "name,email,address/street,address/city,address/country"
    assert await events.deserialise([raw]) == [registered()]


async def test_marks_inside_a_nested_record_leave_its_other_fields_plain() -> None:
    keys = MemoryKeyStore()
    (raw,) = await stored(registry(keys), Shipped("c-1", Parcel("Ada", "GB")))
    assert raw.data["parcel"] == {"country": "GB"}
    await Keyring(keys, MasterKey(b"k" * 32)).forget("c-1")
    assert await registry(keys).deserialise([raw]) == [Shipped("c-1", Parcel(FORGOTTEN, "GB"))]


async def test_events_without_marks_pass_untouched() -> None:
    events = registry(MemoryKeyStore())
    (raw,) = await stored(events, Counted(3))
    assert raw.data == {"amount": 3}
    assert await events.deserialise([raw]) == [Counted(3)]


async def test_forgetting_reads_as_placeholders_not_errors() -> None:
    keys = MemoryKeyStore()
    events = registry(keys)
    raws = await stored(events, registered(), Counted(1), Labelled("c-1", "vip"))
    other = await stored(events, registered("c-2", "Grace Hopper"))
    stage = PersonalDataStage(Keyring(keys, MasterKey(b"k" * 32)), ALL)
    assert await stage.forget("c-1") is True
    assert await stage.forget("c-1") is False  # nothing left to destroy
    fresh = registry(keys)  # another process: nothing cached
    first, counted, labelled = await fresh.deserialise(raws)
    assert first == Registered(
        "c-1", FORGOTTEN, FORGOTTEN, Address(FORGOTTEN, FORGOTTEN, FORGOTTEN), "gold"
    )
    assert counted == Counted(1)
    assert labelled == Labelled("c-1", FORGOTTEN)
    assert (await fresh.deserialise(other))[0] == registered("c-2", "Grace Hopper")


async def test_forget_through_the_same_keyring_takes_effect_at_once() -> None:
    keyring = Keyring(MemoryKeyStore(), MasterKey(b"k" * 32))
    stage = PersonalDataStage(keyring, ALL)
    events = EventRegistry(ALL, stages=[stage])
    raws = await stored(events, registered())
    assert (await events.deserialise(raws))[0].name == "Ada Lovelace"  # the key is cached
    await stage.forget("c-1")
    assert (await events.deserialise(raws))[0].name == FORGOTTEN


async def test_a_forgotten_subject_gets_no_new_personal_data() -> None:
    keys = MemoryKeyStore()
    events = registry(keys)
    await stored(events, registered())
    await Keyring(keys, MasterKey(b"k" * 32)).forget("c-1")
    with pytest.raises(SubjectForgotten, match="c-1"):
        await registry(keys).serialise("customer-1", [registered()])


async def test_a_wrong_master_key_is_not_a_forgotten_subject() -> None:
    keys = MemoryKeyStore()
    raws = await stored(registry(keys), registered())
    with pytest.raises(MasterKeyError, match="wrapped by master key"):
        await registry(keys, MasterKey(b"x" * 32)).deserialise(raws)


async def test_a_lost_key_table_is_not_a_forgotten_subject() -> None:
    raws = await stored(registry(MemoryKeyStore()), registered())
    with pytest.raises(DataKeyMissing, match="c-1"):
        await registry(MemoryKeyStore()).deserialise(raws)


def test_a_missing_master_key_is_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVENTBOOK_MASTER_KEY", raising=False)
    with pytest.raises(MasterKeyError, match="no master key"):
        MasterKey.from_env()
    monkeypatch.setenv("EVENTBOOK_MASTER_KEY", "not base64!")
    with pytest.raises(MasterKeyError, match="base64"):
        MasterKey.from_env()
    monkeypatch.setenv("EVENTBOOK_MASTER_KEY", MasterKey.generate())
    assert len(MasterKey.from_env().fingerprint) == 16


async def test_altered_ciphertext_is_an_error() -> None:
    events = registry(MemoryKeyStore())
    (raw,) = await stored(events, registered())
    subject, paths, sealed = raw.data[ENVELOPE]
    envelope = [subject, paths, sealed[:-6] + "AAAAA="]
    altered = msgspec.structs.replace(raw, data={**raw.data, ENVELOPE: envelope})
    with pytest.raises(eventbook.personal.PersonalDataError, match="altered"):
        await events.deserialise([altered])


async def test_upcasters_see_decrypted_data_or_the_placeholder() -> None:
    keys = MemoryKeyStore()
    seen: list[str] = []

    def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        seen.append(data["label"])
        return {**data, "label": data["label"].upper()}

    def versioned() -> EventRegistry:
        stage = PersonalDataStage(Keyring(keys, MasterKey(b"k" * 32)), ALL)
        events = EventRegistry([Registered, Moved, Counted, Shipped], stages=[stage])
        events.register(Labelled, version=2)
        events.add_upcaster("Labelled", 1, v1_to_v2)
        return events

    old = registry(keys)  # writes Labelled at version 1
    raws = await stored(old, Labelled("c-1", "vip"))
    assert await versioned().deserialise(raws) == [Labelled("c-1", "VIP")]
    await Keyring(keys, MasterKey(b"k" * 32)).forget("c-1")
    assert await versioned().deserialise(raws) == [Labelled("c-1", FORGOTTEN.upper())]
    assert seen == ["vip", FORGOTTEN]


async def test_the_key_cache_is_bounded_and_keys_are_never_shown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    keys = MemoryKeyStore()
    master = MasterKey(b"k" * 32)
    keyring = Keyring(keys, master, cache_size=2)
    await keyring.for_writing(["a", "b", "c"])
    assert len(keyring._cache) == 2
    assert "a" not in keyring._cache
    assert "kkkk" not in repr(master) + repr(keyring)
    assert master.fingerprint in repr(keyring)
    assert all(b"kkkk" not in (r.wrapped or b"") for r in (await keys.fetch("abc")).values())
    assert "kkkk" not in caplog.text


def test_marks_must_be_on_strings_or_records_of_them() -> None:
    class Aged(msgspec.Struct):
        customer_id: str
        age: Annotated[int, PersonalData("customer_id")]

    class Listed(msgspec.Struct):
        customer_id: str
        addresses: list[Annotated[Address, PersonalData("customer_id")]]

    class Nobody(msgspec.Struct):
        name: Annotated[str, PersonalData("customer_id")]

    keyring = Keyring(MemoryKeyStore(), MasterKey(b"k" * 32))
    with pytest.raises(ValidationError, match="only str fields"):
        PersonalDataStage(keyring, [Aged])
    with pytest.raises(ValidationError, match="not supported"):
        PersonalDataStage(keyring, [Listed])
    with pytest.raises(ValidationError, match="names no field"):
        PersonalDataStage(keyring, [Nobody])
    assert PersonalDataStage(keyring, ALL).marked_types == {
        "Registered",
        "Moved",
        "Labelled",
        "Shipped",
    }


async def test_an_event_without_its_subject_is_refused() -> None:
    events = registry(MemoryKeyStore())
    with pytest.raises(ValidationError, match="customer_id names the data subject"):
        await events.serialise("customer-1", [Moved("", Address("x", "y", "z"))])


async def test_opened_data_is_not_served_once_another_process_forgot() -> None:
    keys = MemoryKeyStore()
    keyring = Keyring(keys, MasterKey(b"k" * 32), cache_seconds=0.05)
    events = EventRegistry(ALL, stages=[PersonalDataStage(keyring, ALL)])
    raws = await stored(events, registered())
    assert (await events.deserialise(raws))[0].name == "Ada Lovelace"  # opened and kept
    await Keyring(keys, MasterKey(b"k" * 32)).forget("c-1")  # elsewhere
    await asyncio.sleep(0.06)  # this process's cached key expires
    assert (await events.deserialise(raws))[0].name == FORGOTTEN


async def test_an_envelope_moved_to_another_event_fails_even_once_opened() -> None:
    events = registry(MemoryKeyStore())
    first, second = await stored(events, registered(), registered())
    assert (await events.deserialise([first]))[0].name == "Ada Lovelace"  # opened and kept
    moved = msgspec.structs.replace(second, data={**second.data, ENVELOPE: first.data[ENVELOPE]})
    with pytest.raises(eventbook.personal.PersonalDataError, match="does not decrypt"):
        await events.deserialise([moved])


async def test_kept_values_stop_at_a_forget_through_the_keyring_alone() -> None:
    keyring = Keyring(MemoryKeyStore(), MasterKey(b"k" * 32))
    stage = PersonalDataStage(keyring, ALL)
    events = EventRegistry(ALL, stages=[stage])
    raws = await stored(events, registered(), Labelled("c-1", "vip"))
    assert (await events.deserialise(raws))[1] == Labelled("c-1", "vip")  # opened and kept
    await keyring.forget("c-1")  # not through the stage
    assert await events.deserialise(raws) == [
        Registered("c-1", FORGOTTEN, FORGOTTEN, Address(FORGOTTEN, FORGOTTEN, FORGOTTEN), "gold"),
        Labelled("c-1", FORGOTTEN),
    ]
    assert stage.opened_count == 0  # the forgotten values were dropped on that read


async def test_kept_values_are_bounded_and_give_what_decrypting_gives() -> None:
    keyring = Keyring(MemoryKeyStore(), MasterKey(b"k" * 32))
    stage = PersonalDataStage(keyring, ALL, opened_values=3)
    events = EventRegistry(ALL, stages=[stage])
    typed = [registered(f"c-{n % 2}", f"Person {n}") for n in range(8)]
    raws = await stored(events, *typed)
    assert await events.deserialise(raws) == typed
    assert stage.opened_count <= 3
    assert await events.deserialise(raws) == typed  # partly from what was kept
    many = [Shipped(f"c-{n}", Parcel(f"Person {n}", "GB")) for n in range(6)]
    assert await events.deserialise(await stored(events, *many)) == many
    assert stage.opened_count <= 3
    assert stage._opener.kept.subjects <= 3  # subjects are bounded too
    none_kept = PersonalDataStage(keyring, ALL, opened_values=0)
    assert await EventRegistry(ALL, stages=[none_kept]).deserialise(raws) == typed
    assert none_kept.opened_count == 0
    with pytest.raises(ValidationError, match="opened_values"):
        PersonalDataStage(keyring, ALL, opened_values=-1)
