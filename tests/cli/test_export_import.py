"""`eventbook export` and `import`: JSON Lines (plain and gzip) round trips between SQLite
and PostgreSQL equal the source, a re-run imports nothing twice, bad files are refused."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eventbook.cli import app
from tests.cli.test_copy import everything, seeded
from tests.conftest import PostgresForTests

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize("name", ["events.jsonl", "events.jsonl.gz"])
def test_export_then_import_into_postgres_and_back_equals_the_source(
    tmp_path: Path, postgres: PostgresForTests, postgres_schema: str, name: str
) -> None:
    source, back = f"sqlite:///{tmp_path}/source.db", f"sqlite:///{tmp_path}/back.db"
    middle = postgres.store_url(postgres_schema)
    asyncio.run(seeded(source, 2500))  # more than one page of 1,000
    file, again = tmp_path / name, tmp_path / f"again-{name}"

    code, out = invoke("export", str(file), "--store", source, "--json")
    assert code == 0, out
    assert json.loads(out)["events"] == 2500
    written = gzip.decompress(file.read_bytes()) if name.endswith(".gz") else file.read_bytes()
    assert len(written.splitlines()) == 2500  # one event per line

    code, out = invoke("import", str(file), "--store", middle, "--json")
    assert code == 0, out
    assert json.loads(out)["events"] == 2500
    assert invoke("export", str(again), "--store", middle)[0] == 0
    assert invoke("import", str(again), "--store", back)[0] == 0
    original = asyncio.run(everything(source))
    assert asyncio.run(everything(middle)) == original
    assert asyncio.run(everything(back)) == original

    code, out = invoke("import", str(file), "--store", middle, "--json")  # again: a resume
    assert code == 0, out
    assert (json.loads(out)["events"], json.loads(out)["skipped"]) == (0, 2500)
    assert len(asyncio.run(everything(middle))) == 2500


def test_bad_files_are_refused_with_a_reason_and_exit_code_1(tmp_path: Path) -> None:
    source, target = f"sqlite:///{tmp_path}/source.db", f"sqlite:///{tmp_path}/target.db"
    asyncio.run(seeded(source, 10))
    good = tmp_path / "good.jsonl"
    assert invoke("export", str(good), "--store", source)[0] == 0
    lines = good.read_bytes().splitlines()

    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b"\n".join([lines[0], b'{"id": "nope"}', *lines[1:]]) + b"\n")
    code, out = invoke("import", str(broken), "--store", target)
    assert code == 1
    assert "broken.jsonl:2: not an exported event" in out
    assert asyncio.run(everything(target)) == []  # nothing of it was written

    garbage = tmp_path / "garbage.jsonl"
    garbage.write_bytes(b"this is not JSON\n")
    code, out = invoke("import", str(garbage), "--store", target)
    assert code == 1
    assert "garbage.jsonl:1: not an exported event" in out

    code, out = invoke("import", str(tmp_path / "missing.jsonl"), "--store", target)
    assert code == 1
    assert "missing.jsonl" in out

    not_gzip = tmp_path / "plain.jsonl.gz"
    not_gzip.write_bytes(good.read_bytes())
    code, out = invoke("import", str(not_gzip), "--store", target)
    assert code == 1, out

    code, out = invoke("export", str(tmp_path / "events.jsonl.zst"), "--store", source)
    assert code == 1
    assert "zstd" in out
    assert not (tmp_path / "events.jsonl.zst").exists()

    # A store holding other events is not an earlier import of this file.
    other = tmp_path / "other.jsonl"
    other.write_bytes(b"\n".join(lines[5:]) + b"\n")
    assert invoke("import", str(other), "--store", target)[0] == 0
    code, out = invoke("import", str(good), "--store", target)
    assert code == 1
    assert "holds 5 events, but its newest is event 10" in out
    assert len(asyncio.run(everything(target))) == 5
