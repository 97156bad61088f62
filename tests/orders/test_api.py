"""The Orders API over real HTTP, on both profiles (SQLite; PostgreSQL + Redis)."""

from __future__ import annotations

import concurrent.futures
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.orders.conftest import RunningService

ADDRESS = {
    "name": "Zoë Ørsted",
    "street": "7 Nyhavn",
    "city": "Copenhagen",
    "postcode": "1051",
    "country": "DK",
}


MONEY = re.compile(r"-?[0-9]+\.[0-9]{2}")
ORDER_ID = re.compile(r"[0-9a-f]{16}")


def place(client: httpx.Client, service: RunningService, **extra: Any) -> httpx.Response:
    body = {
        "customer": extra.pop("customer", "Zoë Ørsted"),
        "items": extra.pop(
            "items", [{"product": "Tea sampler", "quantity": 2, "unit_price": "28.00"}]
        ),
        "shipping_address": ADDRESS,
        "currency": "EUR",
    }
    return client.post("/api/orders", json=body, headers={**service.writer, **extra})


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("/problems/")
    assert "Traceback" not in response.text
    return body


def test_a_placed_order_is_readable_at_once_with_min_position(service: RunningService) -> None:
    with service.client() as client:
        accepted = place(client, service, customer="Grace Readyourwrites")
        assert accepted.status_code == 202, accepted.text
        reply = accepted.json()
        assert reply["version"] == 1
        assert reply["position"]
        assert not reply["duplicate"]
        order = client.get(
            f"/api/orders/{reply['order_id']}", params={"min_position": reply["position"]}
        )
        assert order.status_code == 200, order.text
        assert order.json()["customer"] == "Grace Readyourwrites"
        assert order.json()["total"] == "56.00"
        assert order.headers["etag"] == '"1"'
        found = client.get(
            "/api/orders", params={"q": "readyourwrites", "min_position": reply["position"]}
        ).json()
        assert [o["order_id"] for o in found["items"]] == [reply["order_id"]]


def test_the_same_idempotency_key_twenty_times_places_one_order(service: RunningService) -> None:
    key = f"key-{uuid.uuid4()}"
    with service.client() as client, concurrent.futures.ThreadPoolExecutor(8) as pool:
        replies = list(
            pool.map(lambda _: place(client, service, **{"Idempotency-Key": key}), range(20))
        )
        assert {r.status_code for r in replies} == {202}
        bodies = [r.json() for r in replies]
        assert len({(b["order_id"], b["version"], b["position"]) for b in bodies}) == 1
        order_id = bodies[0]["order_id"]
        events = client.get(f"/api/orders/{order_id}/events").json()["items"]
        assert [e["type"] for e in events] == ["OrderPlaced"]
        other = place(client, service, customer="Someone Else", **{"Idempotency-Key": key})
        problem(other, 422)


def test_racing_if_match_gives_one_412(service: RunningService) -> None:
    with service.client() as client:
        order_id = place(client, service).json()["order_id"]
        start = threading.Barrier(2)

        def add(product: str) -> httpx.Response:
            start.wait()
            return client.post(
                f"/api/orders/{order_id}/add-item",
                json={"product": product, "quantity": 1, "unit_price": "3.00"},
                headers={**service.writer, "If-Match": '"1"'},
            )

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            replies = list(pool.map(add, ["Mug", "Spoon"]))
        assert sorted(r.status_code for r in replies) == [202, 412]
        refused = problem(next(r for r in replies if r.status_code == 412), 412)
        assert (refused["expected_version"], refused["actual_version"]) == (1, 2)


def test_concurrent_commands_on_one_order_in_one_process_all_succeed(
    service: RunningService,
) -> None:
    # 16 clients x 15 AddItem on one order, without If-Match: the API process's commands
    # take turns, so none is refused for contention (once 14-16 % were, with 409).
    with service.client() as client:
        order_id = place(client, service).json()["order_id"]

        def add_many(worker: int) -> list[httpx.Response]:
            return [
                client.post(
                    f"/api/orders/{order_id}/add-item",
                    json={"product": f"P{worker}-{n}", "quantity": 1, "unit_price": "1.00"},
                    headers=service.writer,
                )
                for n in range(15)
            ]

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            replies = [r for batch in pool.map(add_many, range(16)) for r in batch]
        refused = [r.text for r in replies if r.status_code != 202]
        assert refused == []
        assert sorted(r.json()["version"] for r in replies) == list(range(2, 242))


def test_business_rules_and_bad_input_are_problems(service: RunningService) -> None:
    with service.client() as client:
        order_id = place(client, service).json()["order_id"]
        ship = client.post(
            f"/api/orders/{order_id}/ship", json={"carrier": "DHL"}, headers=service.writer
        )
        assert problem(ship, 409)["rule"] == "OrderNotPaid"
        wrong = client.post(
            f"/api/orders/{order_id}/process-payment",
            json={"amount": "1.00"},
            headers=service.writer,
        )
        assert problem(wrong, 409)["rule"] == "PaymentAmountMismatch"
        invalid = client.post(
            "/api/orders",
            json={"customer": "", "items": [], "shipping_address": ADDRESS},
            headers=service.writer,
        )
        detail = problem(invalid, 422)["detail"]
        assert "customer" in detail or "items" in detail
        json_body = {**service.writer, "content-type": "application/json"}
        problem(client.post("/api/orders", content=b"{not json", headers=json_body), 400)
        with service.anonymous() as anonymous:
            problem(anonymous.post(f"/api/orders/{order_id}/ship", json={"carrier": "DHL"}), 401)
        problem(
            client.post(
                f"/api/orders/{order_id}/ship", json={"carrier": "DHL"}, headers=service.reader
            ),
            403,
        )
        problem(client.get("/api/orders/no-such-order"), 404)
        for path in ("events", "state", "state?version=1"):
            unknown = client.get(f"/api/orders/no-such-order/{path}")
            assert problem(unknown, 404)["type"] == "/problems/order-not-found"
        past = client.get(f"/api/orders/{order_id}/state", params={"version": 9})
        assert problem(past, 404)["type"] == "/problems/version-not-found"
        problem(client.get("/api/orders", params={"min_position": "soon"}), 422)
        # A position of the other store's shape could never be reached: refused at once.
        own = client.get("/api/store/summary").json()["head"]
        other = own.rpartition(":")[2] if ":" in own else f"97:{own}"
        started = time.monotonic()
        for path in ("/api/orders", f"/api/orders/{order_id}"):
            refused = problem(client.get(path, params={"min_position": other}), 422)
            assert refused["type"] == "/problems/invalid-position"
        assert time.monotonic() - started < 2
        # Nothing of the refused commands was stored.
        events = client.get(f"/api/orders/{order_id}/events").json()["items"]
        assert [e["type"] for e in events] == ["OrderPlaced"]


def test_bodies_that_are_not_clean_json_commands_are_refused(service: RunningService) -> None:
    with service.client() as client:
        json_body = {**service.writer, "content-type": "application/json"}
        for content in (b'{"customer": "\xff"}', b"[" * 5000 + b"]" * 5000):
            problem(client.post("/api/orders", content=content, headers=json_body), 400)
        for content_type in ("text/plain", "application/json; charset=latin-1", None):
            headers = {**service.writer, **({"content-type": content_type} if content_type else {})}
            problem(client.post("/api/orders", content=b"{}", headers=headers), 415)
        address = {**ADDRESS, "country": "DK\n"}
        for body in (
            {"currency": "JPY"},  # no rate to turn it into euros
            {"shipping_address": address},
            {"items": [{"product": "Tea", "quantity": 1, "unit_price": "1e2"}]},
            {"items": [{"product": "Tea", "quantity": 1, "unit_price": " 5"}]},
        ):
            base = {
                "customer": "Ada",
                "items": [{"product": "Tea", "quantity": 1, "unit_price": "5"}],
            }
            refused = client.post(
                "/api/orders",
                json={"shipping_address": ADDRESS, "currency": "EUR", **base, **body},
                headers=service.writer,
            )
            problem(refused, 422)
        huge = [{"product": "Tea", "quantity": 10_000, "unit_price": "1.00"}] * 2  # one line
        assert problem(place(client, service, items=huge), 409)["rule"] == "OrderTooLarge"
        gold = [{"product": "Gold", "quantity": 2, "unit_price": "1000000"}]  # unpayable
        assert problem(place(client, service, items=gold), 409)["rule"] == "OrderTooLarge"


def test_one_payment_in_any_notation_is_one_command(service: RunningService) -> None:
    with service.client() as client:
        placed = place(client, service).json()  # totals 56.00
        key = {"Idempotency-Key": f"pay-{uuid.uuid4()}"}
        paid = [
            client.post(
                f"/api/orders/{placed['order_id']}/process-payment",
                json={"amount": amount},
                headers={**service.writer, **key},
            )
            for amount in ("56", "56.00", 56)
        ]
        assert [r.status_code for r in paid] == [202, 202, 202], [r.text for r in paid]
        assert [r.json()["duplicate"] for r in paid] == [False, True, True]


def test_an_order_through_its_life_with_time_travel(service: RunningService) -> None:
    with service.client() as client:
        placed = place(client, service).json()
        order_id, w = placed["order_id"], service.writer
        paid = client.post(
            f"/api/orders/{order_id}/process-payment", json={"amount": "56.00"}, headers=w
        )
        assert paid.status_code == 202, paid.text
        shipped = client.post(f"/api/orders/{order_id}/ship", json={"carrier": "UPS"}, headers=w)
        assert shipped.json()["version"] == 3
        first = client.get(f"/api/orders/{order_id}/state", params={"version": 1}).json()
        last = client.get(f"/api/orders/{order_id}/state").json()
        assert (first["state"]["status"], last["state"]["status"]) == ("placed", "shipped")
        events = client.get(f"/api/orders/{order_id}/events").json()["items"]
        assert [e["type"] for e in events] == ["OrderPlaced", "PaymentProcessed", "OrderShipped"]
        assert events[1]["metadata"]["actor"] == "api-writer"
        assert events[1]["metadata"]["correlation_id"]
        view = client.get(
            f"/api/orders/{order_id}", params={"min_position": shipped.json()["position"]}
        ).json()
        assert (view["status"], view["carrier"], view["version"]) == ("shipped", "UPS", 3)


def test_legacy_orders_are_read_through_the_upcaster(service: RunningService) -> None:
    with service.client() as client:
        legacy = client.get("/api/store/streams", params={"page_size": 200}).json()["items"]
        for stream in (s["stream"] for s in legacy if s["category"] == "order"):
            events = client.get(f"/api/orders/{stream.removeprefix('order-')}/events").json()
            first = events["items"][0]
            if first["stored_schema_version"] == 1:
                assert first["data"]["currency"] == "EUR"
                return
    pytest.fail("the seeded history holds no version 1 OrderPlaced event")


def test_queries_from_the_read_models(service: RunningService) -> None:
    with service.client() as client:
        page = client.get("/api/orders", params={"status": "shipped", "page_size": 5}).json()
        assert page["total"] > 0
        assert len(page["items"]) <= 5
        assert {o["status"] for o in page["items"]} == {"shipped"}
        customer = page["items"][0]["customer"]
        history = client.get(f"/api/customers/{customer}/orders").json()
        assert history["total"] >= 1
        assert {o["customer"] for o in history["items"]} == {customer}
        summary = client.get("/api/analytics/summary").json()
        assert summary["orders"] > 0
        money = [summary["revenue"], summary["average_order"], summary["refunds"]]
        assert all(MONEY.fullmatch(amount) for amount in money), money  # exact, never floats
        assert Decimal(summary["revenue"]) > 0
        daily = client.get("/api/analytics/daily", params={"days": 90}).json()["items"]
        assert sum(d["orders"] for d in daily) == summary["orders"]
        assert all(MONEY.fullmatch(d["revenue"]) for d in daily)
        top = client.get("/api/analytics/products", params={"limit": 3}).json()["items"]
        assert len(top) == 3
        assert Decimal(top[0]["revenue"]) >= Decimal(top[-1]["revenue"])
        store = client.get("/api/store/summary").json()
        assert store["events"] > 0
        assert store["head"]


def test_the_live_feed_streams_new_events(service: RunningService) -> None:
    with service.client() as client, client.stream("GET", "/api/feed") as feed:
        assert feed.headers["content-type"].startswith("text/event-stream")
        order_id = place(client, service, customer="Feed Watcher").json()["order_id"]
        for line in feed.iter_lines():
            if line.startswith("data:"):
                item = json.loads(line.removeprefix("data:"))
                if item["stream"] == f"order-{order_id}":
                    assert item["type"] == "OrderPlaced"
                    return
    pytest.fail("the feed ended without the new order")


def _messages(feed: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each SSE message of the feed as (its `id:`, its data)."""
    message_id = None
    for line in feed.iter_lines():
        if line.startswith("id:"):
            message_id = line.removeprefix("id:").strip()
        elif line.startswith("data:"):
            assert message_id is not None, "a message without id:"
            yield message_id, json.loads(line.removeprefix("data:"))
            message_id = None


def _position(text: str) -> tuple[int, int]:
    major, _, minor = text.rpartition(":")
    return int(major or 0), int(minor)


def _read_until(feed: httpx.Response, stream: str) -> list[tuple[str, dict[str, Any]]]:
    seen = []
    for message_id, item in _messages(feed):
        seen.append((message_id, item))
        if item["stream"] == stream:
            return seen
    pytest.fail(f"the feed ended before {stream}")


def _order_positions(client: httpx.Client, order_id: str) -> list[str]:
    events = client.get(f"/api/orders/{order_id}/events").json()["items"]
    return [event["position"] for event in events]


@pytest.mark.parametrize("resume_with", ["header", "query"])
def test_a_reconnected_feed_misses_nothing_and_repeats_nothing(
    service: RunningService, resume_with: str
) -> None:
    with service.client() as client:
        with client.stream("GET", "/api/feed") as feed:
            first = place(client, service, customer="Before The Drop").json()["order_id"]
            last_id, last_item = _read_until(feed, f"order-{first}")[-1]
            assert last_id == last_item["position"]  # the id is the event's position
        missed = [place(client, service, customer=f"Missed {n}").json() for n in range(3)]
        for order in missed:  # each pays too: an order's second event
            paid = client.post(
                f"/api/orders/{order['order_id']}/process-payment",
                json={"amount": "56.00"},
                headers=service.writer,
            )
            assert paid.status_code == 202, paid.text
        resume = (
            {"headers": {**service.reader, "Last-Event-ID": last_id}}
            if resume_with == "header"
            else {"params": {"last_event_id": last_id}}
        )
        with client.stream("GET", "/api/feed", **resume) as feed:  # type: ignore[arg-type]
            live = place(client, service, customer="After The Drop").json()["order_id"]
            got = _read_until(feed, f"order-{live}")
        expected = [p for o in missed for p in _order_positions(client, o["order_id"])]
        expected = sorted(expected + _order_positions(client, live), key=_position)
        assert [message_id for message_id, _ in got] == expected


def test_a_bad_last_event_id_is_a_422(service: RunningService) -> None:
    with service.client() as client:
        answer = client.get("/api/feed", headers={**service.reader, "Last-Event-ID": "yesterday"})
        body = problem(answer, 422)
        assert body["errors"][0]["field"] == "Last-Event-ID"
        answer = client.get("/api/feed", params={"last_event_id": "-1"})
        assert problem(answer, 422)["errors"][0]["field"] == "last_event_id"


def test_one_422_names_every_bad_field_in_the_shape_queries_use(service: RunningService) -> None:
    with service.client() as client:
        body = {
            "customer": "",
            "items": [
                {"product": "", "quantity": 0, "unit_price": "1e2"},
                {"product": "Tea", "quantity": 1, "unit_price": "5"},
            ],
            "shipping_address": {**ADDRESS, "country": "Denmark"},
            "currency": "USD",
            "colour": "red",
        }
        refused = problem(client.post("/api/orders", json=body, headers=service.writer), 422)
        messages = {error["field"]: error["message"] for error in refused["errors"]}
        assert set(messages) == {
            "customer",
            "items[0].product",
            "items[0].quantity",
            "items[0].unit_price",
            "shipping_address.country",
            "currency",
            "colour",
        }
        assert (
            messages["currency"] == "Invalid enum value 'USD'; expected one of 'EUR', 'GBP', 'CHF'"
        )
        assert messages["colour"] == "unknown field"
        assert refused["detail"].startswith("check: ")
        query = problem(client.get("/api/orders", params={"page": 0, "page_size": 0}), 422)
        assert len(query["errors"]) == 2
        assert all(set(error) == {"field", "message"} for error in query["errors"])
        assert all(set(error) == {"field", "message"} for error in refused["errors"])


def test_unknown_query_parameters_are_refused(service: RunningService) -> None:
    with service.client() as client:
        order_id = place(client, service).json()["order_id"]
        for path, params in (
            ("/api/orders", {"stauts": "paid"}),
            (f"/api/orders/{order_id}/state", {"asof": "2026-01-01T00:00:00Z"}),
            (f"/api/orders/{order_id}", {"min_position": "1", "verbose": "1"}),
            ("/api/analytics/summary", {"currency": "GBP"}),
        ):
            body = problem(client.get(path, params=params), 422)
            unknown = [error["field"] for error in body["errors"]]
            assert unknown == [name for name in params if name != "min_position"], path
        assert client.get("/api/orders", params={"status": "paid"}).status_code == 200


def test_time_travel_by_time_over_http(service: RunningService) -> None:
    with service.client() as client:
        order_id = place(client, service).json()["order_id"]
        paid = client.post(
            f"/api/orders/{order_id}/process-payment",
            json={"amount": "56.00"},
            headers=service.writer,
        )
        assert paid.status_code == 202, paid.text
        events = client.get(f"/api/orders/{order_id}/events").json()["items"]
        placed_at, paid_at = (event["recorded_at"] for event in events)
        state = f"/api/orders/{order_id}/state"
        then = client.get(state, params={"as_of": placed_at}).json()
        assert (then["version"], then["state"]["status"]) == (1, "placed")
        assert client.get(state, params={"as_of": paid_at}).json()["version"] == 2
        before = problem(client.get(state, params={"as_of": "2001-01-01T00:00:00Z"}), 404)
        assert before["type"] == "/problems/not-placed-yet"
        naive = problem(client.get(state, params={"as_of": "2026-01-01T00:00:00"}), 422)
        assert naive["errors"][0]["field"] == "as_of"
        both = client.get(state, params={"as_of": paid_at, "version": 1}).json()
        assert both["version"] == 1  # the earlier of the two
        past = client.get(state, params={"as_of": paid_at, "version": 3})
        assert problem(past, 404)["type"] == "/problems/version-not-found"
        problem(client.get(state, params={"as_of": "yesterday"}), 422)


def test_seeded_and_placed_orders_have_ids_of_one_shape(service: RunningService) -> None:
    with service.client() as client:
        placed = place(client, service).json()["order_id"]
        seeded = client.get("/api/orders", params={"sort": "placed_at", "page_size": 5}).json()
        ids = [placed, *(order["order_id"] for order in seeded["items"])]
        assert all(ORDER_ID.fullmatch(order_id) for order_id in ids), ids


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_docs_load_nothing_from_elsewhere(service: RunningService, page: str) -> None:
    with service.anonymous() as client:  # the docs are public, like the schema they show
        html = client.get(page)
        assert html.status_code == 200, html.text
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html.text)
        assert assets, html.text
        assert not re.search(r"https?://", html.text), "a page that loads from the internet"
        for asset in assets:
            loaded = client.get(asset)
            assert loaded.status_code == 200, asset
            assert len(loaded.content) > 1000, asset
        assert client.get("/openapi.json").status_code == 200


def test_the_live_feed_stays_open_through_quiet_spells(service: RunningService) -> None:
    # Orders 9 s apart leave the feed idle longer than redis-py's 5 s socket timeout, which
    # once ended the stream with a TimeoutError every 5 s on the production profile.
    placed: list[str] = []
    failures: list[BaseException] = []

    def place_slowly(client: httpx.Client) -> None:
        try:
            for _ in range(4):
                reply = place(client, service, customer="Quiet Watcher")
                assert reply.status_code == 202, reply.text
                placed.append(f"order-{reply.json()['order_id']}")
                time.sleep(9)
        except BaseException as failure:  # reported by the test's own thread
            failures.append(failure)

    seen: list[str] = []
    started = time.monotonic()
    with service.client() as client, client.stream("GET", "/api/feed") as feed:
        writer = threading.Thread(target=place_slowly, args=(client,), daemon=True)
        writer.start()
        for line in feed.iter_lines():
            if line.startswith("data:"):
                seen.append(json.loads(line.removeprefix("data:"))["stream"])
            if len(placed) == 4 and set(placed) <= set(seen):
                break
        writer.join(timeout=60)
    assert not failures, failures
    assert time.monotonic() - started >= 27
    assert set(placed) <= set(seen), "the feed ended before every order came through"


def test_write_contention_is_a_retry_later_problem_not_a_rule() -> None:
    import asyncio

    from apps.orders.api import problems

    from eventbook import ConcurrencyError

    answer = asyncio.run(problems._on_conflict(None, ConcurrencyError("order-1", 3, 4)))  # type: ignore[arg-type]
    body = json.loads(bytes(answer.body))
    assert (answer.status_code, body["type"]) == (503, "/problems/write-contention")
    assert answer.headers["retry-after"] == "1"
    assert "rule" not in body
