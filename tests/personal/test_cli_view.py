"""`eventbook read` and `eventbook event` show sealed personal values as placeholders."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

import eventbook
from eventbook import EventRegistry
from eventbook.cli import app
from eventbook.personal import Keyring, MasterKey, PersonalDataStage, open_key_store
from tests.personal.events import Registered, registered


async def write(url: str) -> None:
    store = await eventbook.connect(url)
    keys = await open_key_store(url)
    keyring = Keyring(keys, MasterKey(b"k" * 32))
    events = EventRegistry([Registered], stages=[PersonalDataStage(keyring, [Registered])])
    await store.append("customer-1", await events.serialise("customer-1", [registered()]))
    await keyring.forget("c-1")
    await keys.close()
    await store.close()


def test_read_shows_sealed_values_without_keys_and_without_failing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    asyncio.run(write(url))
    runner = CliRunner()
    result = runner.invoke(app, ["read", "customer-1", "--store", url, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)["data"]
    assert data["name"] == data["address"]["street"] == "[sealed: c-1]"
    assert data["customer_id"] == "c-1"
    assert "$personal" not in data
    pretty = runner.invoke(app, ["read", "customer-1", "--store", url], env={"COLUMNS": "100"})
    assert pretty.exit_code == 0
    assert "[sealed: c-1]" in pretty.output
    assert "Ada" not in pretty.output
