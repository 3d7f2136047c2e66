"""Broadcasts through the API against the sandbox: audience, personalised template parameters,
the bulk lane, counters (sent, delivered, read, failed with explanations, replies), cancel."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.helpers import bearer
from tests.outbound.conftest import wait_until, worker
from tests.sandbox_fixture import DEFAULT_NUMBER, sign
from wacrm.sandbox.payloads import build_status_payload, dumps


async def _post_status(
    client: Any, wamid: str, status: str, phone: str, errors: Any = None
) -> None:
    payload = build_status_payload(
        phone_number_id=DEFAULT_NUMBER["phone_number_id"],
        display_phone_number=DEFAULT_NUMBER["display_phone_number"],
        waba_id=DEFAULT_NUMBER["waba_id"],
        wamid=wamid,
        status=status,
        recipient_id=phone.lstrip("+"),
        errors=errors,
    )
    body = dumps(payload)
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": sign(body, DEFAULT_NUMBER["app_secret"]),
    }
    assert (
        await client.post("/webhooks/whatsapp", content=body, headers=headers)
    ).status_code == 200


async def test_broadcast_audience_send_counters(
    client: Any, conn: Any, db_url: str, shop: dict[str, Any]
) -> None:
    auth = bearer(shop["token"])
    preview = await client.post(
        "/api/v1/broadcasts/preview", json={"has_orders": False}, headers=auth
    )
    assert (
        preview.status_code == 200 and preview.json()["count"] == 2
    )  # the opted-out is never counted
    bad = await client.post(
        "/api/v1/broadcasts",
        json={"name": "Promo", "template_name": "we_miss_you", "params": ["{first_name}"]},
        headers=auth,
    )
    assert bad.status_code == 422 and "needs 2 parameter(s)" in bad.json()["detail"]
    unknown = await client.post(
        "/api/v1/broadcasts",
        json={"name": "Promo", "template_name": "nope", "params": []},
        headers=auth,
    )
    assert unknown.status_code == 422 and "not an approved template" in unknown.json()["detail"]
    made = await client.post(
        "/api/v1/broadcasts",
        json={
            "name": "Promo",
            "template_name": "we_miss_you",
            "params": ["{first_name}", "10%"],
            "audience": {"has_orders": None},
        },
        headers=auth,
    )
    assert made.status_code == 201, made.text
    broadcast = made.json()
    assert broadcast["state"] == "scheduled"
    url = f"/api/v1/broadcasts/{broadcast['id']}"
    async with worker(db_url):

        async def settled() -> Any:
            got = (await client.get(url, headers=auth)).json()
            c = got["counters"]
            return got if got["state"] == "sent" and c["sent"] + c["failed"] == 4 else None

        got = await wait_until(settled, 30)
    assert got, (await client.get(url, headers=auth)).json()
    assert got["recipients"] == 4 and got["counters"]["recipients"] == 4
    sent = shop["sandbox"].sent_messages()["messages"]
    delivered = [m for m in sent if m["type"] == "template" and m["wamid"]]
    params = sorted(
        m["request"]["template"]["components"][0]["parameters"][0]["text"] for m in delivered
    )
    assert params == ["Ann0", "Ann1", "Ann2", "Ann3"]
    assert shop["customers"][4]["phone"].lstrip("+") not in {m["to"] for m in sent}
    # statuses and a reply arrive by webhook
    cur = await conn.execute(
        shop["tables"].query(
            "SELECT m.wamid, c.phone FROM {messages} m JOIN {customers} c ON c.id = m.customer_id WHERE m.status = 'sent' ORDER BY c.id"
        )
    )
    rows = await cur.fetchall()
    chat = await client.get(
        f"/api/v1/conversations/{shop['customers'][0]['id']}/messages", headers=auth
    )
    sent_one = next(m for m in chat.json()["items"] if m["direction"] == "outbound")
    assert sent_one["automatic"] == "broadcast" and sent_one["sent_by_name"]  # who, and how
    await _post_status(client, rows[0]["wamid"], "delivered", rows[0]["phone"])
    await _post_status(client, rows[1]["wamid"], "read", rows[1]["phone"])
    undeliverable = [
        {"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable"}
    ]
    await _post_status(client, rows[3]["wamid"], "failed", rows[3]["phone"], errors=undeliverable)
    from tests.sandbox_fixture import signed_inbound

    body, headers, _ = signed_inbound("text", "Show me", phone=rows[1]["phone"].lstrip("+"))
    assert (
        await client.post("/webhooks/whatsapp", content=body, headers=headers)
    ).status_code == 200
    got = (await client.get(url, headers=auth)).json()
    c = got["counters"]
    assert (c["sent"], c["delivered"], c["read"], c["failed"], c["replied"]) == (3, 2, 1, 1, 1)
    assert got["failures"][0]["error_code"] == 131026 and got["failures"][0]["n"] == 1
    assert got["failures"][0]["explanation"]
    assert (await client.get("/api/v1/broadcasts", headers=auth)).json()["broadcasts"][0][
        "id"
    ] == broadcast["id"]


async def test_cancel_stops_unsent_messages(
    client: Any, conn: Any, db_url: str, shop: dict[str, Any]
) -> None:
    auth = bearer(shop["token"])
    await conn.execute("UPDATE whatsapp_configuration SET messages_per_second = 1")
    made = await client.post(
        "/api/v1/broadcasts",
        json={"name": "Slow", "template_name": "we_miss_you", "params": ["{name}", "5%"]},
        headers=auth,
    )
    assert made.status_code == 201
    url = f"/api/v1/broadcasts/{made.json()['id']}"
    async with worker(db_url):

        async def queued() -> Any:
            got = (await client.get(url, headers=auth)).json()
            return got if got["state"] == "sent" else None

        assert await wait_until(queued, 30)
        cancelled = await client.post(url + "/cancel", headers=auth)
        assert cancelled.status_code == 200
        stopped = cancelled.json()["stopped"]
        assert stopped >= 1
        await asyncio.sleep(3)
    got = (await client.get(url, headers=auth)).json()
    assert got["state"] == "cancelled" and got["counters"]["cancelled"] == stopped
    sent = shop["sandbox"].sent_messages()["count"]
    assert sent == 4 - stopped  # the cancelled ones never left


async def test_scheduled_broadcast_waits_and_other_workspaces_404(
    client: Any, conn: Any, db_url: str, shop: dict[str, Any]
) -> None:
    from tests.helpers import make_agent_user

    auth = bearer(shop["token"])
    naive = await client.post(
        "/api/v1/broadcasts",
        json={
            "name": "Later",
            "template_name": "we_miss_you",
            "params": ["a", "b"],
            "scheduled_at": "2099-01-01T09:00:00",
        },
        headers=auth,
    )
    assert naive.status_code == 422
    made = await client.post(
        "/api/v1/broadcasts",
        json={
            "name": "Later",
            "template_name": "we_miss_you",
            "params": ["a", "b"],
            "scheduled_at": "2099-01-01T09:00:00+01:00",
        },
        headers=auth,
    )
    assert made.status_code == 201
    async with worker(db_url):
        await asyncio.sleep(2)
    got = (await client.get(f"/api/v1/broadcasts/{made.json()['id']}", headers=auth)).json()
    assert got["state"] == "scheduled" and got["counters"]["recipients"] == 0
    other = await make_agent_user(conn, "other@example.com")
    assert (
        await client.get(f"/api/v1/broadcasts/{made.json()['id']}", headers=bearer(other["token"]))
    ).status_code == 404
    assert (
        await client.post(
            f"/api/v1/broadcasts/{made.json()['id']}/cancel", headers=bearer(other["token"])
        )
    ).status_code == 404


async def test_audience_by_label_last_contact_and_opt_in(
    client: Any, conn: Any, shop: dict[str, Any]
) -> None:
    auth = bearer(shop["token"])
    tables, customers = shop["tables"], shop["customers"]
    cur = await conn.execute(
        "INSERT INTO workspace_labels (agent_id, name, color) VALUES (%s, 'vip', '#aa0000') RETURNING id",
        (shop["agent"]["id"],),
    )
    label = (await cur.fetchone())["id"]
    for c in (customers[0], customers[3], customers[4]):  # the last one opted out
        await conn.execute(
            tables.query(
                "INSERT INTO {conversation_labels} (customer_id, label_id) VALUES (%s, %s)"
            ),
            (c["id"], label),
        )
    await conn.execute(
        tables.query("UPDATE {customers} SET opted_in = true WHERE id = %s"), (customers[3]["id"],)
    )

    async def count(**audience: Any) -> int:
        response = await client.post("/api/v1/broadcasts/preview", json=audience, headers=auth)
        assert response.status_code == 200, response.text
        return response.json()["count"]

    assert await count() == 4
    assert await count(labels=["vip"]) == 2
    assert await count(labels=["vip"], opted_in_only=True) == 1
    assert await count(has_orders=True) == 2
    # customers 0..2 wrote 1, 2 and 3 hours ago; 3 never wrote
    from datetime import UTC, datetime, timedelta

    cut = (datetime.now(UTC) - timedelta(minutes=150)).isoformat()
    assert await count(last_contact_after=cut) == 2
    assert (
        await count(last_contact_before=cut) == 2
    )  # the one of 3 hours ago and the one who never wrote


async def test_a_reply_goes_out_while_a_broadcast_is_under_way(
    client: Any, conn: Any, db_url: str, shop: dict[str, Any]
) -> None:
    auth = bearer(shop["token"])
    await conn.execute("UPDATE whatsapp_configuration SET messages_per_second = 1")
    made = await client.post(
        "/api/v1/broadcasts",
        json={"name": "Slow", "template_name": "we_miss_you", "params": ["{name}", "5%"]},
        headers=auth,
    )
    url = f"/api/v1/broadcasts/{made.json()['id']}"
    async with worker(db_url):

        async def queued() -> Any:
            got = (await client.get(url, headers=auth)).json()
            return got if got["state"] == "sent" else None

        assert await wait_until(queued, 30)
        customer = shop["customers"][0]
        shop["sandbox"].open_window(customer["phone"].lstrip("+"))  # the customer wrote an hour ago
        reply = await client.post(
            f"/api/v1/customers/{customer['id']}/messages",
            json={"type": "text", "body": "Right away!"},
            headers=auth,
        )
        assert reply.status_code == 202

        async def reply_sent() -> Any:
            cur = await conn.execute(
                shop["tables"].query("SELECT status FROM {messages} WHERE id = %s"),
                (reply.json()["id"],),
            )
            return (await cur.fetchone())["status"] in ("sent", "delivered", "read")

        assert await wait_until(reply_sent, 10)
        waiting = (await client.get(url, headers=auth)).json()["counters"]["waiting"]
    assert waiting >= 1  # the broadcast's own messages were still waiting for their slots
