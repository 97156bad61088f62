"""`eventbook retention`, `maintain` and `archive` (+ `import --restore`) against a real
SQLite file and a real PostgreSQL schema."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from eventbook import STREAM_ARCHIVED, STREAM_TRUNCATED, RecordedEvent, connect
from eventbook.cli import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def call(url: str, method: str, *args: Any, **kwargs: Any) -> Any:
    async def work() -> Any:
        store = await connect(url)
        try:
            found = getattr(store, method)(*args, **kwargs)
            if hasattr(found, "__aiter__"):
                return [item async for item in found]
            return await found
        finally:
            await store.close()

    return asyncio.run(work())


def kept(events: list[RecordedEvent]) -> list[tuple[Any, ...]]:
    return [(e.id, e.stream, e.version, e.type, e.data, e.metadata, e.recorded_at) for e in events]


def test_maintain_applies_the_retention_set_by_the_retention_command(store_url: str) -> None:
    code, out = invoke("retention", "account-0", "--max-count", "1", "--store", store_url)
    assert code == 0, out
    code, out = invoke("retention", "account-1", "--max-age", "30d", "--store", store_url, "--json")
    assert code == 0, out
    assert json.loads(out) == {
        "stream": "account-1",
        "max_count": None,
        "max_age_seconds": 30 * 86400.0,
    }
    code, out = invoke("maintain", "--store", store_url, "--json")
    assert code == 0, out
    (truncated,) = json.loads(out)["truncated"]  # account-1's events are all young
    assert (truncated["stream"], truncated["first_version"]) == ("account-0", 3)
    assert [e.version for e in call(store_url, "read_stream", "account-0")] == [3]
    markers = call(store_url, "read_all", types=[STREAM_TRUNCATED])
    assert [(m.stream, m.data["before"]) for m in markers] == [("$$account-0", 3)]
    code, out = invoke("maintain", "--store", store_url)
    assert code == 0, out
    assert "every stream is within its retention" in out


def test_bad_retention_input_is_refused(store_url: str) -> None:
    assert invoke("retention", "account-0", "--max-age", "3x", "--store", store_url)[0] == 2
    assert invoke("retention", "account-0", "--max-count", "0", "--store", store_url)[0] == 2
    code, out = invoke("retention", "$$account-0", "--max-count", "1", "--store", store_url)
    assert code == 1
    assert "system stream" in out


def test_an_archived_stream_comes_back_exactly(store_url: str, tmp_path: Path) -> None:
    before = call(store_url, "read_stream", "account-0")
    file = tmp_path / "account-0.jsonl.gz"
    code, out = invoke(
        "archive", str(file), "--stream", "account-0", "--store", store_url, "--json"
    )
    assert code == 0, out
    assert json.loads(out)["streams"] == ["account-0"]
    assert json.loads(out)["events"] == 3
    assert len(gzip.decompress(file.read_bytes()).splitlines()) == 3
    assert call(store_url, "stream_version", "account-0") == 0
    (marker,) = call(store_url, "read_all", types=[STREAM_ARCHIVED])
    assert marker.stream == "$$account-0"

    code, out = invoke("import", str(file), "--restore", "--store", store_url, "--json")
    assert code == 0, out
    back = call(store_url, "read_stream", "account-0")
    assert kept(back) == kept(before)
    assert all(e.position > marker.position for e in back)  # no position is reused


def test_archiving_everything_before_a_position(store_url: str, tmp_path: Path) -> None:
    everything = call(store_url, "read_all")
    newest = everything[-1]  # user-1's only event
    file = tmp_path / "old.jsonl.gz"
    code, out = invoke(
        "archive", str(file), "--before", str(newest.position), "--store", store_url, "--json"
    )
    assert code == 0, out
    assert json.loads(out)["streams"] == ["account-0", "account-1", "account-9"]
    left = [e for e in call(store_url, "read_all") if not e.stream.startswith("$$")]
    assert kept(left) == kept([newest])
    assert invoke("import", str(file), "--restore", "--store", store_url)[0] == 0
    back = [e for e in call(store_url, "read_all") if not e.stream.startswith("$$")]
    assert sorted(kept(back), key=str) == sorted(kept(everything), key=str)


def test_archive_refuses_what_could_not_come_back(store_url: str, tmp_path: Path) -> None:
    file = tmp_path / "x.jsonl.gz"
    assert invoke("archive", str(file), "--store", store_url)[0] == 2
    both = ("--stream", "account-0", "--before", "5")
    assert invoke("archive", str(file), *both, "--store", store_url)[0] == 2
    call(store_url, "delete_stream", "account-9")
    code, out = invoke("archive", str(file), "--stream", "account-9", "--store", store_url)
    assert code == 1
    assert "cannot be archived" in out
    assert len(call(store_url, "read_all", categories=["account"])) == 7  # nothing purged
