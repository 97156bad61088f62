"""The store commands against a real SQLite file and a real PostgreSQL schema."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from eventbook import connect
from eventbook.cli import app
from tests.cli.cli_app import orders

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "60"})
    return result.exit_code, result.output


def json_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_streams_lists_sizes_and_filters_by_category(store_url: str) -> None:
    code, out = invoke("streams", "--store", store_url, "--json", "--sort", "size")
    assert code == 0, out
    listed = json.loads(out)
    assert {s["stream"]: s["version"] for s in listed} == {
        "account-0": 3,
        "account-1": 3,
        "account-9": 1,
        "user-1": 1,
    }
    assert listed[0]["bytes"] >= listed[-1]["bytes"]
    code, out = invoke("streams", "--store", store_url, "--category", "user")
    assert code == 0, out
    assert "user-1" in out
    assert "account-0" not in out


def test_read_event_and_backwards(store_url: str) -> None:
    code, out = invoke("read", "account-0", "--store", store_url, "--json")
    assert code == 0, out
    events = json_lines(out)
    assert [e["version"] for e in events] == [1, 2, 3]
    code, out = invoke(
        "read", "account-0", "--store", store_url, "--json", "--backwards", "--from-version", "2"
    )
    assert [e["version"] for e in json_lines(out)] == [2, 1]
    code, out = invoke("event", str(events[1]["id"]), "--store", store_url, "--json")
    assert code == 0
    assert json.loads(out)["data"] == events[1]["data"]
    code, out = invoke("read", "account-0", "--store", store_url)
    assert code == 0
    assert "Deposited" in out
    assert invoke("read", "nothing-1", "--store", store_url)[0] == 1
    assert invoke("event", "not-a-uuid", "--store", store_url)[0] == 2


def test_tail_filters_from_the_start(store_url: str) -> None:
    code, out = invoke(
        "tail", "--store", store_url, "--from-start", "--category", "user", "--limit", "1", "--json"
    )
    assert code == 0, out
    assert [e["stream"] for e in json_lines(out)] == ["user-1"]


def test_stats_counts_events_streams_and_types(store_url: str) -> None:
    code, out = invoke("stats", "--store", store_url, "--json")
    assert code == 0, out
    stats = json.loads(out)
    assert (stats["events"], stats["streams"]) == (8, 4)
    assert stats["events_per_type"] == {"Deposited": 7, "Joined": 1}
    assert stats["bytes_on_disk"] > 0
    assert stats["largest_streams"][0]["stream"].startswith("account-")
    code, out = invoke("stats", "--store", store_url)
    assert code == 0
    assert "Deposited" in out


def test_a_missing_sqlite_database_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "mistyped.db"
    for command in ("streams", "stats", "tail"):
        code, out = invoke(command, "--store", f"sqlite:///{missing}")
        assert code == 1, out
    code, out = invoke(
        "projections",
        "status",
        "--app",
        "tests.cli.cli_app:build",
        "--store",
        f"sqlite:///{missing}",
    )
    assert code == 1, out
    assert not missing.exists()
    assert invoke("migrate", "--store", f"sqlite:///{missing}")[0] == 0
    assert missing.exists()


def test_a_missing_postgres_schema_is_an_error_until_migrated(postgres, postgres_schema) -> None:  # type: ignore[no-untyped-def]
    url = postgres.store_url(postgres_schema)
    code, out = invoke("streams", "--store", url)
    assert code == 1
    assert "migrat" in out
    code, out = invoke("migrate", "--store", url, "--json")
    assert code == 0, out
    assert json.loads(out)["migrated"] is True
    assert invoke("streams", "--store", url)[0] == 0


def test_bad_usage_exits_with_2(store_url: str) -> None:
    assert invoke("streams", "--store", store_url, "--bogus")[0] == 2
    assert invoke("streams", "--store", store_url, "--sort", "colour")[0] == 2


def test_state_travels_in_time_with_the_apps_repository(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/orders.db"

    async def place_then_ship() -> None:
        store = await connect(url)
        repository = orders(store)
        order = repository.new("order-1")
        order.place("ada", 30)
        await repository.save(order)
        order.ship("DHL")
        await repository.save(order)
        await store.close()

    asyncio.run(place_then_ship())
    app_target = "tests.cli.cli_app:orders"
    code, out = invoke(
        "state", "order-1", "--at-version", "1", "--app", app_target, "--store", url, "--json"
    )
    assert code == 0, out
    shown = json.loads(out)
    assert (shown["version"], shown["state"]["status"]) == (1, "placed")
    code, out = invoke(
        "state",
        "order-1",
        "--at-time",
        "2999-01-01T00:00:00+00:00",
        "--app",
        app_target,
        "--store",
        url,
    )
    assert code == 0, out
    assert "shipped" in out
    assert invoke("state", "order-1", "--store", url, "--app", app_target)[0] == 2
    assert (
        invoke("state", "order-1", "--at-version", "9", "--store", url, "--app", app_target)[0] == 1
    )


def test_the_console_script_runs_in_a_process(store_url: str) -> None:
    script = Path(sys.executable).parent / "eventbook"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "eventbook.cli"]
    env = {**os.environ, "EVENTBOOK_STORE": store_url, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [*command, "stats", "--json"], capture_output=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["events"] == 8


def test_every_command_has_help_with_an_example() -> None:
    import typer.main

    def commands(group: Any, path: list[str]) -> list[list[str]]:
        found = []
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                found += commands(command, [*path, name])
            else:
                found.append([*path, name])
        return found

    every = commands(typer.main.get_command(app), [])
    assert len(every) == 22  # 6 store, state, 9 projections, copy, export, import, 3 maintenance
    for path in every:
        code, out = invoke(*path, "--help")
        assert code == 0, path
        assert "Example: eventbook " + " ".join(path) in " ".join(out.split()), path
