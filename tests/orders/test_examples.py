"""The API's worked examples are true: replayed in order against a fresh service (in
process, SQLite), each gets the documented status, headers and body; the OpenAPI schema
carries each of them; docs/orders-service.md prints each of them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apps.orders.api import examples
from apps.orders.api.app import create_app
from apps.orders.api.examples import EXCHANGES, VARYING, Exchange
from apps.orders.settings import Settings
from fastapi.testclient import TestClient

DOC = Path(__file__).resolve().parents[2] / "docs" / "orders-service.md"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("examples")
    settings = Settings(
        events_url=f"sqlite:///{data / 'events.db'}",
        read_models_url=f"sqlite:///{data / 'read-models.db'}",
        seed_orders=0,
        writer_key=examples.WRITER_KEY,
        reader_key=examples.READER_KEY,
        operator_key=examples.OPERATOR_KEY,
    )
    with TestClient(create_app(settings)) as running:
        yield running


def mismatches(documented: Any, actual: Any, where: str = "$") -> list[str]:
    """Where `actual` differs from `documented`: every value equal, but those named in
    `VARYING`, which need the same shape."""
    if isinstance(documented, dict) and isinstance(actual, dict):
        if documented.keys() != actual.keys():
            return [f"{where}: keys {sorted(documented)} documented, {sorted(actual)} answered"]
        found = []
        for key, value in documented.items():
            shape = VARYING.get(key)
            if shape is not None:
                for side in (value, actual[key]):
                    if not (isinstance(side, str) and shape.fullmatch(side)):
                        found.append(f"{where}.{key}: {side!r} is not a {key}")
            else:
                found += mismatches(value, actual[key], f"{where}.{key}")
        return found
    if isinstance(documented, list) and isinstance(actual, list):
        if len(documented) != len(actual):
            return [f"{where}: {len(documented)} items documented, {len(actual)} answered"]
        return [
            m
            for i, pair in enumerate(zip(documented, actual, strict=True))
            for m in mismatches(*pair, f"{where}[{i}]")
        ]
    return (
        [] if documented == actual else [f"{where}: {documented!r} documented, {actual!r} answered"]
    )


def caught_up(client: TestClient) -> None:
    """Queries read read models: wait until every projection has the commands before."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        items = client.get("/api/projections", headers={"X-API-Key": examples.OPERATOR_KEY}).json()[
            "items"
        ]
        if items and all(p["lag_events"] == 0 for p in items):
            return
        time.sleep(0.05)
    raise AssertionError("the projections did not catch up")


def test_the_example_checker_can_fail() -> None:
    assert (
        mismatches({"position": "12", "total": "1.00"}, {"position": "3:40", "total": "1.00"}) == []
    )
    assert mismatches({"position": "12"}, {"position": 12}) != []
    assert mismatches({"total": "1.00"}, {"total": "1.0"}) != []
    assert mismatches({"items": [1]}, {"items": [1, 2]}) != []
    assert mismatches({"a": 1}, {"a": 1, "b": 2}) != []


def test_every_command_has_an_accepted_example() -> None:
    from apps.orders.api.commands import ROUTES

    commands = {command.__name__ for _, command, _ in ROUTES}
    accepted = {e.operation for e in EXCHANGES if e.status == 202}
    assert commands <= accepted, commands - accepted
    assert {409, 412, 422} <= {e.status for e in EXCHANGES}


def test_the_examples_replayed_in_order_get_the_documented_answers(client: TestClient) -> None:
    # One story: each exchange runs on the state the ones before it left.
    wrong: list[str] = []
    for exchange in EXCHANGES:
        if exchange.method == "GET":
            caught_up(client)
        body = None if exchange.body is None else examples.json_text(exchange.body).encode()
        answer = client.request(
            exchange.method, exchange.path, headers=exchange.headers, content=body
        )
        if answer.status_code != exchange.status:
            wrong.append(f"{exchange.name}: {answer.status_code} {answer.text}")
            continue
        for name, value in exchange.answer_headers.items():
            if answer.headers.get(name) != value:
                wrong.append(f"{exchange.name}: {name}: {answer.headers.get(name)!r}")
        wrong += [f"{exchange.name}: {m}" for m in mismatches(exchange.answer, answer.json())]
    assert wrong == []


def _operation(schema: dict[str, Any], exchange: Exchange) -> dict[str, Any]:
    operation: dict[str, Any] = schema["paths"][exchange.route][exchange.method.lower()]
    return operation


@pytest.mark.parametrize("exchange", EXCHANGES, ids=[e.name for e in EXCHANGES])
def test_the_openapi_schema_carries_each_example(client: TestClient, exchange: Exchange) -> None:
    operation = _operation(client.get("/openapi.json").json(), exchange)
    media = exchange.answer_headers["Content-Type"]
    answers = operation["responses"][str(exchange.status)]["content"][media]["examples"]
    assert answers[exchange.name]["value"] == exchange.answer
    if exchange.body is not None and exchange.status < 400:
        bodies = operation["requestBody"]["content"]["application/json"]["examples"]
        assert exchange.body in [example["value"] for example in bodies.values()]


def test_the_documentation_prints_each_example() -> None:
    text = DOC.read_text()
    for exchange in EXCHANGES:
        assert f"```http\n{examples.request_text(exchange)}\n```" in text, exchange.name
        assert f"```http\n{examples.answer_text(exchange)}\n```" in text, exchange.name
