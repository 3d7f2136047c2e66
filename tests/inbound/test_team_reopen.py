"""Webhooks through the real pipeline: a new conversation is auto-assigned, a resolved or
snoozed one reopens when the customer writes again."""

from __future__ import annotations

from typing import Any

from tests.helpers import bearer
from tests.inbound.conftest import APP_SECRET, PNID, deliver
from tests.sandbox_fixture import signed_inbound


async def _inbound(client: Any, text: str) -> None:
    body, _, _ = signed_inbound(
        "text", text, phone="4915100001234", app_secret=APP_SECRET, phone_number_id=PNID
    )
    r = await deliver(client, body)
    assert r.status_code == 200, r.text


async def test_webhooks_assign_and_reopen(client: Any, conn: Any, agent: dict[str, Any]) -> None:
    auth = bearer(agent["token"])
    r = await client.put(
        f"/api/v1/agents/{agent['agent']['id']}/auto-assignment",
        json={"enabled": True},
        headers=auth,
    )
    assert r.status_code == 200
    await _inbound(client, "first message")
    items = (await client.get("/api/v1/conversations", headers=auth)).json()["items"]
    assert len(items) == 1
    cid = items[0]["customer_id"]
    assert items[0]["assignee_id"] == str(agent["user_id"]) and items[0]["status"] == "open"
    for status in ("resolved", "snoozed"):
        r = await client.patch(
            f"/api/v1/conversations/{cid}", json={"status": status}, headers=auth
        )
        assert r.json()["status"] == status
        await _inbound(client, f"back after {status}")
        state = (await client.get(f"/api/v1/conversations/{cid}", headers=auth)).json()
        assert state["status"] == "open", status
    events = (await client.get(f"/api/v1/conversations/{cid}/events", headers=auth)).json()
    assert [(e["kind"], e["from"], e["to"], e["actor_id"] is None) for e in events] == [
        ("assignee", None, str(agent["user_id"]), True),
        ("status", "open", "resolved", False),
        ("status", "resolved", "open", True),
        ("status", "open", "snoozed", False),
        ("status", "snoozed", "open", True),
    ]
