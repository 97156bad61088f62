"""The SQLite backend's schema migrations and its options."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path

import pytest

from eventbook._backends.sqlite import SQLiteEventStore
from eventbook._backends.sqlite.schema import prepare_database, schema_version
from eventbook._backends.sqlite.sql import Migration, migrations, split_script
from eventbook._connect import connect
from eventbook._errors import SchemaVersionError, UnavailableError, ValidationError
from eventbook._store.types import NewEvent


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ledger(path: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT version, name FROM eventbook_migrations ORDER BY 1")
        return [(int(version), str(name)) for version, name in rows]


async def make_store(path: Path, events: int = 3) -> None:
    async with await SQLiteEventStore.open(path) as store:
        await store.append("m-1", [NewEvent("Happened", {"n": n}) for n in range(events)])


# -- migrations ----------------------------------------------------------------------------------


async def test_a_new_file_gets_the_whole_schema(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    await make_store(path)
    assert ledger(path) == [(m.version, m.name) for m in migrations()]
    with sqlite3.connect(path) as connection:
        (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
        assert mode == "wal"


async def test_a_database_without_the_store_gets_it_beside_its_tables(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE customers (name TEXT)")
        connection.execute("INSERT INTO customers VALUES ('Ada')")
    await make_store(path)
    assert ledger(path)[-1][0] == migrations()[-1].version
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT name FROM customers").fetchall() == [("Ada",)]


async def test_an_older_schema_is_migrated_keeping_its_events(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    await make_store(path)
    later = Migration(
        len(migrations()) + 1,
        "events_by_type",
        "-- a later release's change; ';' in a comment is fine\n"
        "CREATE INDEX eventbook_events_type ON eventbook_events (type, position);\n"
        "ALTER TABLE eventbook_snapshots ADD COLUMN note TEXT DEFAULT 'x;y';\n",
    )
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        assert prepare_database(connection, str(path), (*migrations(), later)) == later.version
        assert prepare_database(connection, str(path), (*migrations(), later)) == later.version
    finally:
        connection.close()
    assert ledger(path)[-1] == (later.version, "events_by_type")
    with sqlite3.connect(path) as raw:
        indexes = {row[1] for row in raw.execute("PRAGMA index_list(eventbook_events)")}
        assert "eventbook_events_type" in indexes
        assert raw.execute("SELECT count(*) FROM eventbook_events").fetchone() == (3,)
    # This eventbook only knows the earlier versions now: it refuses the upgraded file.
    with pytest.raises(SchemaVersionError):
        await SQLiteEventStore.open(path)


async def test_a_store_of_the_first_schema_is_upgraded_for_the_stream_lifecycle(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v1.db"
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        assert prepare_database(connection, str(path), migrations()[:1]) == 1
        connection.execute(
            "INSERT INTO eventbook_events (id, stream, version, type, document) VALUES"
            " (randomblob(16), 'old-1', 1, 'T', '{}')"
        )
    finally:
        connection.close()
    with (
        pytest.raises(sqlite3.OperationalError, match="no such table: eventbook_streams"),
        sqlite3.connect(path) as old,
    ):
        old.execute("SELECT * FROM eventbook_streams")
    async with await SQLiteEventStore.open(path) as store:
        await store.append("m-2", [NewEvent("Happened", {"n": 1})])
        await store.delete_stream("m-2")
        assert (await store.stream_state("m-2")).deleted
    assert [version for version, _ in ledger(path)] == [m.version for m in migrations()]
    assert ledger(path)[1] == (2, "stream_marks")


async def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "failing.db"
    await make_store(path)
    broken = Migration(
        len(migrations()) + 1,
        "broken",
        "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n",
    )
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        with pytest.raises(UnavailableError, match="no_such_table"):
            prepare_database(connection, str(path), (*migrations(), broken))
        assert schema_version(connection) == migrations()[-1].version
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        assert "half_done" not in tables
    finally:
        connection.close()


async def test_a_newer_schema_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    await make_store(path)
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO eventbook_migrations VALUES (99, 'future', 'later')")
    before = digest(path)
    with pytest.raises(SchemaVersionError) as refused:
        await SQLiteEventStore.open(path)
    message = str(refused.value)
    assert "99" in message
    assert str(path) in message
    assert "newer eventbook" in message
    assert digest(path) == before
    assert ledger(path)[-1] == (99, "future")


async def test_a_newer_schema_is_refused_before_switching_to_wal(tmp_path: Path) -> None:
    path = tmp_path / "rollback-journal.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(
            "CREATE TABLE eventbook_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL);"
            "INSERT INTO eventbook_migrations VALUES (1000, 'future', 'later');"
        )
    before = digest(path)
    with pytest.raises(SchemaVersionError):
        await connect(f"sqlite:///{path}")
    assert digest(path) == before
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)


async def test_stores_opening_a_new_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    # Many files, six stores each: switching a new file to WAL fails at once (SQLite does
    # not wait for that lock) in about one opening of a hundred unless the store retries.
    for attempt in range(40):
        path = tmp_path / f"race-{attempt}.db"
        stores = await asyncio.gather(*(SQLiteEventStore.open(path) for _ in range(6)))
        try:
            results = await asyncio.gather(
                *(s.append(f"r-{n}", [NewEvent("Happened", {})]) for n, s in enumerate(stores))
            )
        finally:
            for store in stores:
                await store.close()
        assert sorted(r.position.minor for r in results) == [1, 2, 3, 4, 5, 6]
        assert ledger(path) == [(m.version, m.name) for m in migrations()]


async def test_a_file_that_is_not_a_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database, " * 100)
    before = digest(path)
    with pytest.raises(UnavailableError, match="not a database"):
        await SQLiteEventStore.open(path)
    assert digest(path) == before


def test_migration_scripts_split_into_statements() -> None:
    script = (
        "-- leading comment; with a semicolon\n"
        "CREATE TABLE a (x TEXT DEFAULT ';');\n\n"
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n"
        "  UPDATE a SET x = 'y'; \n"
        "END;\n"
        "-- trailing comment\n"
    )
    statements = split_script(script)
    assert len(statements) == 2
    assert statements[1].endswith("END;")
    with pytest.raises(ValueError, match="incomplete"):
        split_script("CREATE TABLE b (x)")
    for migration in migrations():
        assert split_script(migration.script)


# -- options ------------------------------------------------------------------------------------


async def test_options_from_a_url_are_parsed(tmp_path: Path) -> None:
    url = (
        f"sqlite:///{tmp_path}/o.db?synchronous=normal&busy_timeout=250&readers=1"
        "&watch_interval=0.1"
    )
    store = await connect(url)
    assert isinstance(store, SQLiteEventStore)
    async with store:
        options = store.options
        assert (options.synchronous, options.busy_timeout, options.readers) == ("NORMAL", 250, 1)
        assert options.watch_interval == 0.1

        def pragmas(connection: sqlite3.Connection) -> tuple[int, int]:
            (synchronous,) = connection.execute("PRAGMA synchronous").fetchone()
            (timeout,) = connection.execute("PRAGMA busy_timeout").fetchone()
            return synchronous, timeout

        assert await store._writer.call(pragmas) == (1, 250)  # 1 is NORMAL
        assert await store._readers.call(pragmas) == (1, 250)


async def test_the_default_is_durable(tmp_path: Path) -> None:
    async with await SQLiteEventStore.open(tmp_path / "d.db") as store:
        assert store.options.synchronous == "FULL"
        assert await store._writer.call(lambda c: c.execute("PRAGMA synchronous").fetchone()) == (
            2,
        )


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"synchronous": "fast"}, "synchronous must be one of OFF, NORMAL, FULL, EXTRA"),
        ({"synchronous": 2}, "synchronous must be one of"),
        ({"busy_timeout": "-1"}, "busy_timeout must be a whole number from 0"),
        ({"busy_timeout": "soon"}, "busy_timeout"),
        ({"busy_timeout": "²"}, "busy_timeout"),
        ({"busy_timeout": True}, "busy_timeout"),
        ({"readers": "-1"}, "readers must be a whole number from 0 to 64"),
        ({"readers": 1.5}, "readers"),
        ({"watch_interval": "0"}, "watch_interval must be a number of seconds"),
        ({"watch_interval": "nan"}, "watch_interval"),
        ({"journal": "wal"}, "unknown SQLite option 'journal'; the options are busy_timeout"),
    ],
)
async def test_bad_options_are_refused_before_the_file_is_touched(
    tmp_path: Path, options: dict[str, object], complaint: str
) -> None:
    path = tmp_path / "never.db"
    with pytest.raises(ValidationError, match=complaint):
        await SQLiteEventStore.open(path, **options)
    assert not path.exists()


@pytest.mark.parametrize(
    ("query", "complaint"),
    [
        ("synchronous=", "synchronous must be one of"),  # blank is a bad value, not "default"
        ("busy_timeout=", "busy_timeout must be a whole number"),
        ("synchronus", "unknown SQLite option 'synchronus'"),  # a bare, misspelt flag
    ],
)
async def test_blank_and_bare_url_options_are_refused(
    tmp_path: Path, query: str, complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        await connect(f"sqlite:///{tmp_path}/never.db?{query}")
    assert not (tmp_path / "never.db").exists()


async def test_urls_that_do_not_parse_or_give_the_memory_store_options_are_refused() -> None:
    with pytest.raises(ValidationError, match="not a store URL"):
        await connect("memory://[")
    with pytest.raises(ValidationError, match="takes no options"):
        await connect("memory://?readers=2")


async def test_a_bad_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="non-empty file path"):
        await SQLiteEventStore.open("  ")
    with pytest.raises(UnavailableError, match="cannot open"):
        await SQLiteEventStore.open(tmp_path / "missing-folder" / "x.db")
