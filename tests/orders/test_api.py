"""Orders HTTP API: life cycle, decimal strings, bad input (4xx, nothing changed), other agents (404)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import bearer
from tests.orders.conftest import add_message

API = "/api/v1"


async def test_life_cycle_over_http(client: Any, conn: Any, agent: dict[str, Any]) -> None:
    h = bearer(agent["token"])
    await conn.execute(
        "UPDATE agents SET notify_order_status = false WHERE id = %s", (agent["agent"]["id"],)
    )
    mid = await add_message(conn, agent["tables"], agent["customer_id"])
    r = await client.post(
        f"{API}/orders",
        headers=h,
        json={
            "customer_id": agent["customer_id"],
            "message_id": mid,
            "notes": "call first",
            "items": [{"name": "Mug", "quantity": 2, "price": "4.50"}],
        },
    )
    assert r.status_code == 201, r.text
    o = r.json()
    assert (
        o["total_amount"] == "9.00"
        and o["items"][0]["price"] == "4.50"
        and o["items"][0]["total"] == "9.00"
    )
    assert o["message_id"] == mid and o["currency"] == "USD"
    oid = o["id"]
    r = await client.post(
        f"{API}/orders/{oid}/items", headers=h, json={"name": "Tea", "price": "1.25", "quantity": 3}
    )
    assert r.status_code == 201 and r.json()["total_amount"] == "12.75"
    item = r.json()["items"][1]["id"]
    r = await client.patch(f"{API}/orders/{oid}/items/{item}", headers=h, json={"quantity": 1})
    assert r.json()["total_amount"] == "10.25"
    r = await client.delete(f"{API}/orders/{oid}/items/{item}", headers=h)
    assert r.json()["total_amount"] == "9.00"
    r = await client.patch(f"{API}/orders/{oid}", headers=h, json={"shipping_address": "1 Main St"})
    assert r.json()["shipping_address"] == "1 Main St" and r.json()["notes"] == "call first"
    for s in ("confirmed", "processing", "shipped", "delivered"):
        r = await client.post(f"{API}/orders/{oid}/status", headers=h, json={"status": s})
        assert r.status_code == 200 and r.json()["status"] == s
    r = await client.post(f"{API}/orders/{oid}/status", headers=h, json={"status": "cancelled"})
    assert r.status_code == 409
    assert "cannot go from delivered to cancelled" in r.json()["detail"]
    got = (await client.get(f"{API}/orders/{oid}", headers=h)).json()
    assert [x["to_status"] for x in got["history"]] == [
        "pending",
        "confirmed",
        "processing",
        "shipped",
        "delivered",
    ]
    assert all(x["changed_by"] == str(agent["user_id"]) for x in got["history"])


BAD_BODIES = [
    ({"items": [{"name": "A", "quantity": 0, "price": "1"}]}, 422),
    ({"items": [{"name": "A", "quantity": -1, "price": "1"}]}, 422),
    ({"items": [{"name": "A", "quantity": 1, "price": "-0.01"}]}, 422),
    ({"items": [{"name": "A", "quantity": 1, "price": "ten"}]}, 422),
    ({"items": [{"name": "A", "quantity": 1, "price": 1.5}]}, 422),
    ({"items": [{"name": "A", "quantity": 1, "price": "1.999"}]}, 422),
    ({"items": [{"name": "", "quantity": 1, "price": "1"}]}, 422),
    ({"items": [{"quantity": 1, "price": "1"}]}, 422),
    ({"currency": "dollars"}, 422),
    ({"customer_id": 999}, 404),
    ({"message_id": 999}, 404),
    ({"unexpected": 1}, 422),
]


@pytest.mark.parametrize(("extra", "code"), BAD_BODIES)
async def test_bad_create_is_4xx_and_changes_nothing(
    client: Any, conn: Any, agent: dict[str, Any], extra: dict[str, Any], code: int
) -> None:
    body = {"customer_id": agent["customer_id"], **extra}
    r = await client.post(f"{API}/orders", headers=bearer(agent["token"]), json=body)
    assert r.status_code == code, r.text
    assert r.json()["detail"]
    cur = await conn.execute(agent["tables"].query("SELECT count(*) AS n FROM {orders}"))
    assert (await cur.fetchone())["n"] == 0


async def test_bad_item_edit_over_http(client: Any, agent: dict[str, Any]) -> None:
    h = bearer(agent["token"])
    o = (
        await client.post(
            f"{API}/orders",
            headers=h,
            json={
                "customer_id": agent["customer_id"],
                "currency": "JPY",
                "items": [{"name": "A", "price": "100"}],
            },
        )
    ).json()
    item = o["items"][0]["id"]
    for body in ({"price": "100.5"}, {"quantity": 0}, {"name": "  "}, {"price": True}):
        r = await client.patch(f"{API}/orders/{o['id']}/items/{item}", headers=h, json=body)
        assert r.status_code == 422, (body, r.text)
    r = await client.post(f"{API}/orders/{o['id']}/status", headers=h, json={"status": "done"})
    assert r.status_code == 422 and "unknown status" in r.json()["detail"]
    got = (await client.get(f"{API}/orders/{o['id']}", headers=h)).json()
    assert (
        got["total_amount"] == "100"
        and got["items"][0]["quantity"] == 1
        and got["status"] == "pending"
    )


async def test_other_agents_orders_answer_404(
    client: Any, agent: dict[str, Any], other: dict[str, Any]
) -> None:
    mine, theirs = bearer(agent["token"]), bearer(other["token"])
    for _ in range(2):
        r = await client.post(
            f"{API}/orders",
            headers=theirs,
            json={"customer_id": other["customer_id"], "items": [{"name": "B", "price": "2"}]},
        )
    oid, item = r.json()["id"], r.json()["items"][0]["id"]
    assert oid == 2
    r = await client.post(f"{API}/orders", headers=mine, json={"customer_id": other["customer_id"]})
    assert r.status_code == 404
    checks = [
        ("GET", f"/orders/{oid}", None),
        ("PATCH", f"/orders/{oid}", {"notes": "x"}),
        ("POST", f"/orders/{oid}/items", {"name": "X", "price": "1"}),
        ("PATCH", f"/orders/{oid}/items/{item}", {"quantity": 3}),
        ("DELETE", f"/orders/{oid}/items/{item}", None),
        ("POST", f"/orders/{oid}/status", {"status": "cancelled"}),
        ("GET", f"/customers/{other['customer_id']}/orders", None),
        ("GET", f"/orders?agent_id={other['agent']['id']}", None),
    ]
    for method, path, body in checks:
        r = await client.request(method, API + path, headers=mine, json=body)
        assert r.status_code == 404, (method, path, r.text)
    r = await client.get(f"{API}/orders/{oid}", headers=theirs)
    assert (
        r.json()["status"] == "pending"
        and r.json()["total_amount"] == "2.00"
        and r.json()["notes"] is None
    )


async def test_admin_chooses_agent(
    client: Any, agent: dict[str, Any], admin: dict[str, Any]
) -> None:
    h = bearer(admin["token"])
    r = await client.post(
        f"{API}/orders?agent_id={agent['agent']['id']}",
        headers=h,
        json={"customer_id": agent["customer_id"]},
    )
    assert r.status_code == 201 and r.json()["created_by"] == str(admin["user_id"])
    assert (await client.get(f"{API}/orders", headers=h)).status_code == 400
    assert (await client.get(f"{API}/orders", headers=bearer("nope"))).status_code == 401
