"""Deleting an order's stream over HTTP: operators only; the Orders list drops it."""

from __future__ import annotations

from tests.orders.conftest import RunningService
from tests.orders.test_api import place, problem


def test_an_operator_deletes_an_order_and_the_list_drops_it(service: RunningService) -> None:
    with service.client() as client:
        reply = place(client, service, customer="Dora Deleteme").json()
        order_id, placed_at = reply["order_id"], reply["position"]
        for query in ({"customer": "Dora Deleteme"}, {"q": "deleteme"}):
            listed = client.get("/api/orders", params={**query, "min_position": placed_at})
            assert [o["order_id"] for o in listed.json()["items"]] == [order_id]

        for key in (service.reader, service.writer):  # reads and commands are not enough
            problem(client.delete(f"/api/orders/{order_id}", headers=key), 403)
        stale = client.delete(
            f"/api/orders/{order_id}", params={"expected_version": 2}, headers=service.operator
        )
        problem(stale, 412)  # the order is at version 1: nothing deleted
        assert stale.json()["type"] == "/problems/version-mismatch", stale.text

        deleted = client.delete(f"/api/orders/{order_id}", headers=service.operator)
        assert deleted.status_code == 200, deleted.text
        answer = deleted.json()
        assert (answer["order_id"], answer["deleted"]) == (order_id, "deleted")
        assert answer["stream"] == f"order-{order_id}"

        after = {"min_position": answer["position"]}
        listed = client.get("/api/orders", params={"customer": "Dora Deleteme", **after})
        assert listed.json()["items"] == []
        searched = client.get("/api/orders", params={"q": "deleteme", **after})
        assert searched.json()["items"] == []
        problem(client.get(f"/api/orders/{order_id}", params=after), 404)
        assert client.get(f"/api/orders/{order_id}/events").status_code == 404

        command = client.post(
            f"/api/orders/{order_id}/add-item",
            json={"product": "Ghost", "quantity": 1, "unit_price": "1.00"},
            headers=service.writer,
        )
        assert problem(command, 409)["type"] == "/problems/order-not-found"  # as if never placed

        again = client.delete(f"/api/orders/{order_id}", headers=service.operator)
        assert problem(again, 410)["deleted"] == "deleted"
        hard = client.delete(
            f"/api/orders/{order_id}", params={"hard": "true"}, headers=service.operator
        )
        assert hard.json()["deleted"] == "tombstoned"
        missing = client.delete("/api/orders/0123456789abcdef", headers=service.operator)
        problem(missing, 404)
