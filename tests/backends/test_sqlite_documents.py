"""SQLite reads join a page's documents with a separator byte and split them on it: data
full of JSON punctuation, unicode and control characters must come back exactly, on every
read path (a whole short read, pages served from a read-ahead buffer, reader threads)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import msgspec
import pytest

from eventbook._backends.sqlite import SQLiteEventStore
from eventbook._backends.sqlite.documents import RECORDED, SEPARATOR, split_documents
from eventbook._store.types import NewEvent, Position, RecordedEvent

AWKWARD = [
    "\x1e",  # the separator itself, inside a string
    "a\x1eb,c]\x1e[{",
    '},{"id":"x"}]',
    "\x00\x01\x1f\n\r\t",
    "é漢字🎉",
    "\\u001e",
]


def _data(n: int) -> dict[str, Any]:
    text = AWKWARD[n % len(AWKWARD)]
    return {"n": n, "text": text, "keys": {text: [text, n]}}


def test_encoded_json_never_contains_the_separator() -> None:
    for text in AWKWARD:
        assert SEPARATOR not in msgspec.json.encode({text: text})


def test_splitting_and_decoding_joined_documents_agree() -> None:
    documents = [msgspec.json.encode({"n": n, "text": _data(n)["text"]}) for n in range(12)]
    joined = SEPARATOR.join(documents)
    assert split_documents(joined) == documents
    assert split_documents(documents[0]) == [documents[0]]


@pytest.mark.parametrize("readers", [0, 2])
async def test_awkward_data_reads_back_exactly(tmp_path: Path, readers: int) -> None:
    async with await SQLiteEventStore.open(tmp_path / "events.db", readers=readers) as store:
        store.read_page_size = 7  # pages served from a read-ahead buffer, not one whole read
        await store.append("odd-1", [NewEvent("Odd", _data(n)) for n in range(300)])
        await store.append("odd-2", [NewEvent("Odd", _data(n)) for n in range(3)])
        every = [e async for e in store.read_all()]
        assert [e.data for e in every] == [_data(n) for n in range(300)] + [
            _data(n) for n in range(3)
        ]
        stream = [e async for e in store.read_stream("odd-1")]
        assert [e.data for e in stream] == [_data(n) for n in range(300)]
        backwards = [e async for e in store.read_stream("odd-1", backwards=True)]
        assert [e.version for e in backwards] == list(range(300, 0, -1))
        assert [e.data for e in backwards] == [_data(n) for n in range(299, -1, -1)]
        short = await store.read_all_page(after=every[-4].position, limit=10)  # a whole read
        assert [e.data for e in short] == [_data(n) for n in range(3)]
        filtered = [e async for e in store.read_all(types=["Odd"], categories=["odd"])]
        assert filtered == every
        replayed = [r async for page in store.replay_pages("odd-2") for r in page]
        assert [msgspec.json.decode(r.data) for r in replayed] == [_data(n) for n in range(3)]


def test_recorded_decoding_of_a_joined_chunk() -> None:
    """`Decoding.joined` reads a chunk as the queries return it."""
    events = [
        RecordedEvent(uuid4(), "s-1", n, Position(0, n), "T", _data(n), {}, datetime.now(UTC))
        for n in range(1, 5)
    ]
    joined = SEPARATOR.join(msgspec.json.encode(e) for e in events)
    assert RECORDED.joined(joined) == events
