"""`eventbook.projections.open(url)`: a projection database from a URL, as
`eventbook.connect` opens a store, and a specific error for every bad URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventbook._errors import ValidationError
from eventbook.projections import PostgresDatabase, SQLiteDatabase, open
from tests.conftest import PostgresForTests, with_query


async def test_a_sqlite_url_opens_a_set_up_database_in_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    absolute = await open(f"sqlite:///{tmp_path}/read.db?busy_timeout=5")
    try:
        assert isinstance(absolute, SQLiteDatabase)
        assert (absolute.path, absolute.busy_timeout) == (f"{tmp_path}/read.db", 5.0)
        assert await absolute.checkpoints() == []  # eventbook's tables are there
    finally:
        await absolute.close()
    monkeypatch.chdir(tmp_path)
    relative = await open("sqlite:///relative.db")
    await relative.close()
    assert (tmp_path / "relative.db").exists()


async def test_a_postgresql_url_opens_its_schema(
    postgres: PostgresForTests, postgres_schema: str
) -> None:
    database = await open(with_query(postgres.url, schema=postgres_schema, pool_size="2"))
    try:
        assert isinstance(database, PostgresDatabase)
        assert (database.schema, database.pool_size) == (postgres_schema, 2)
        assert "schema=" not in database.dsn
        assert await database.fetch("SELECT current_schema()") == [(postgres_schema,)]
    finally:
        await database.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://:memory:", "not an in-memory database"),
        ("sqlite:///:memory:", "not an in-memory database"),
        ("sqlite://read.db", "not a SQLite URL"),
        ("sqlite:///", "not a SQLite URL"),
        ("sqlite:///read.db?timeout=3", "takes busy_timeout, not timeout"),
        ("sqlite:///read.db?busy_timeout=soon", "busy_timeout='soon' is not a valid"),
        ("sqlite:///read.db?busy_timeout=-1", "busy_timeout must be 0 or more seconds"),
        ("postgresql://localhost/db?pool_size=many", "pool_size='many' is not a valid"),
        ("postgresql://localhost/db?pool_size=0", "pool_size must be an int of at least 1"),
        ("postgresql://localhost/db?schema=no-dash", "schema must be a plain identifier"),
        ("memory://", "unknown projection database URL scheme 'memory'"),
        ("read.db", "unknown projection database URL scheme ''"),
        ("http://[::1", "not a projection database URL"),
    ],
)
async def test_a_bad_url_says_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        await open(url)


async def test_a_url_must_be_a_string() -> None:
    with pytest.raises(ValidationError, match="must be a string, not PosixPath"):
        await open(Path("read.db"))  # type: ignore[arg-type]
