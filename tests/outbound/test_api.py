"""The sending API: queue (202), bad input (4xx, nothing changed), uploads, retry, templates, scoping."""

from __future__ import annotations

from typing import Any

from tests.helpers import bearer, make_agent_user
from wacrm.sandbox.media import png


async def _count(conn: Any, tables: Any) -> int:
    return (
        await (await conn.execute(tables.query("SELECT count(*) AS n FROM {messages}"))).fetchone()
    )["n"]


async def test_send_upload_retry_and_templates(
    client: Any, conn: Any, shop: dict[str, Any]
) -> None:
    auth, tables, cid = bearer(shop["token"]), shop["tables"], shop["customer"]["id"]
    r = await client.post(
        f"/api/v1/customers/{cid}/messages", json={"type": "text", "body": "hi"}, headers=auth
    )
    assert r.status_code == 202 and r.json()["status"] == "queued"
    for bad, code in [
        ({"type": "text", "body": ""}, 422),
        ({"type": "fax", "body": "x"}, 422),
        ({"type": "image", "media_id": 999}, 404),
        ({"type": "text", "body": "x", "reply_to": 12345}, 422),
        ({"type": "template", "name": "Bad Name!"}, 422),
    ]:
        r = await client.post(f"/api/v1/customers/{cid}/messages", json=bad, headers=auth)
        assert r.status_code == code, (bad, r.text)
    r = await client.post(
        "/api/v1/customers/99999/messages", json={"type": "text", "body": "x"}, headers=auth
    )
    assert r.status_code == 404
    assert await _count(conn, tables) == 1
    r = await client.post(
        f"/api/v1/customers/{cid}/messages?bulk=true",
        json={"type": "text", "body": "offer"},
        headers=auth,
    )
    assert r.status_code == 202
    cur = await conn.execute("SELECT message_id, bulk FROM outbound_sends ORDER BY message_id")
    assert [row["bulk"] for row in await cur.fetchall()] == [False, True]
    r = await client.post(
        f"/api/v1/customers/{cid}/messages?bulk=maybe",
        json={"type": "text", "body": "x"},
        headers=auth,
    )
    assert r.status_code == 422
    assert await _count(conn, tables) == 2

    r = await client.post(
        "/api/v1/media",
        files={"file": ("a.png", png(), "image/png")},
        data={"kind": "image"},
        headers=auth,
    )
    assert r.status_code == 201 and r.json()["size"] == len(png())
    r2 = await client.post(
        "/api/v1/media",
        files={"file": ("a.exe", b"MZ", "application/x-msdownload")},
        data={"kind": "image"},
        headers=auth,
    )
    assert r2.status_code == 415
    r3 = await client.post(
        f"/api/v1/customers/{cid}/messages",
        json={"type": "image", "media_id": r.json()["id"], "caption": "c"},
        headers=auth,
    )
    assert r3.status_code == 202 and r3.json()["media_type"] == "image"

    first = (
        await (
            await conn.execute(tables.query("SELECT id FROM {messages} ORDER BY id LIMIT 1"))
        ).fetchone()
    )["id"]
    r = await client.post(f"/api/v1/messages/{first}/retry", headers=auth)
    assert r.status_code == 409  # queued, not failed
    await conn.execute(
        tables.query("UPDATE {messages} SET status = 'failed', error_code = 131026 WHERE id = %s"),
        (first,),
    )
    r = await client.post(f"/api/v1/messages/{first}/retry", headers=auth)
    assert (
        r.status_code == 202 and r.json()["status"] == "queued" and r.json()["error_code"] is None
    )

    r = await client.get("/api/v1/templates", headers=auth)
    assert r.status_code == 200
    names = {t["name"] for t in r.json()["templates"]}
    assert {"hello_world", "order_update"} <= names
    cached = (
        await (await conn.execute("SELECT count(*) AS n FROM whatsapp_templates")).fetchone()
    )["n"]
    assert cached == len(r.json()["templates"])


async def test_other_agents_customers_answer_404(
    client: Any, conn: Any, shop: dict[str, Any]
) -> None:
    other = await make_agent_user(conn, "other@example.com")
    r = await client.post(
        f"/api/v1/customers/{shop['customer']['id']}/messages",
        json={"type": "text", "body": "x"},
        headers=bearer(other["token"]),
    )
    assert r.status_code == 404
    assert await _count(conn, shop["tables"]) == 0
