"""`eventbook projections ...` on a real projection (tests/cli/cli_app.py:build), with the
store and the read database on SQLite, then both on PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from eventbook.cli import app

runner = CliRunner()
APP = "tests.cli.cli_app:build"


def invoke(store_url: str, *args: str) -> tuple[int, str]:
    command = ["projections", *args, "--app", APP, "--store", store_url]
    result = runner.invoke(app, command, env={"COLUMNS": "80"})
    return result.exit_code, result.output


def status(store_url: str) -> dict[int, dict[str, Any]]:
    code, out = invoke(store_url, "status", "--json")
    assert code == 0, out
    return {s["version"]: s for s in json.loads(out) if s["name"] == "totals"}


def test_rebuild_then_dead_letters_retry_and_discard(store_url: str, read_db: str) -> None:
    before = status(store_url)  # no runner has set them up: listed all the same
    assert {v: s["state"] for v, s in before.items()} == {1: "not_set_up", 2: "not_set_up"}
    assert before[1]["position"] is None

    code, out = invoke(store_url, "rebuild", "totals", "--version", "1")
    assert code == 0, out
    assert "rebuild totals" in out
    assert "done, 7 events" in out
    after = status(store_url)[1]
    assert after["position"] is not None
    assert (after["lag_events"], after["parked"]) == (0, 1)  # the negative deposit

    code, out = invoke(store_url, "parked", "totals", "--version", "1", "--json")
    assert code == 0, out
    (parked,) = json.loads(out)
    assert "negative deposit" in parked["error"]
    attempts = parked["attempts"]
    code, out = invoke(store_url, "parked", "totals", "--version", "1")
    assert code == 0, out
    assert "1 parked" in out

    # The handler still refuses it: retrying fails (exit 1) and counts one more attempt.
    code, out = invoke(store_url, "retry", "totals", parked["event_id"], "--version", "1")
    assert code == 1, out
    code, out = invoke(store_url, "parked", "totals", "--version", "1", "--json")
    assert [p["attempts"] for p in json.loads(out)] == [attempts + 1]

    code, out = invoke(store_url, "discard", "totals", parked["event_id"], "--version", "1")
    assert code == 0, out
    code, out = invoke(store_url, "parked", "totals", "--version", "1", "--json")
    assert json.loads(out) == []
    assert status(store_url)[1]["parked"] == 0


def test_blue_green_build_switch_and_drop(store_url: str, read_db: str) -> None:
    assert invoke(store_url, "rebuild", "totals", "--version", "1")[0] == 0
    code, out = invoke(store_url, "switch", "totals", "--version", "1")
    assert code == 0, out
    code, out = invoke(store_url, "build", "totals", "--version", "2")
    assert code == 0, out
    assert "build totals" in out
    built = status(store_url)
    assert built[2]["position"] == built[1]["position"]  # every partition got there
    assert built[1]["active"]
    assert not built[2]["active"]
    assert built[1]["partitions"] == []
    parts = built[2]["partitions"]
    assert [(p["partition"], p["lag_events"]) for p in parts] == [(0, 0), (1, 0), (2, 0)]
    code, out = invoke(store_url, "status")
    assert code == 0, out
    assert "#2" in out  # a row per partition

    code, out = invoke(store_url, "switch", "totals", "--version", "2")
    assert code == 0, out
    assert "readers now see" in out
    switched = status(store_url)
    assert switched[2]["active"]
    assert not switched[1]["active"]
    assert switched[1]["state"] == "retired"

    code, out = invoke(store_url, "drop", "totals", "--version", "1")
    assert code == 0, out
    dropped = status(store_url)
    assert dropped[1]["position"] is None  # its checkpoint is gone
    assert dropped[2]["position"] == switched[2]["position"]

    code, out = invoke(store_url, "status")
    assert code == 0, out
    assert "totals" in out


def test_unknown_projection_version_and_bad_ids(store_url: str, read_db: str) -> None:
    code, out = invoke(store_url, "rebuild", "nothing")
    assert code == 1
    assert "no projection named 'nothing'" in out
    code, out = invoke(store_url, "build", "totals", "--version", "7")
    assert code == 1
    assert "no version 7" in out
    assert invoke(store_url, "retry", "totals", "not-a-uuid")[0] == 2
    code, out = invoke(store_url, "discard", "totals", "0190a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b")
    assert code == 1, out
