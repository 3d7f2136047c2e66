"""A customer who stopped marketing gets no broadcast or marketing template; replies still go."""

from __future__ import annotations

from typing import Any

from tests.helpers import bearer


async def test_marketing_sends_refused_replies_not(
    client: Any, conn: Any, shop: dict[str, Any]
) -> None:
    auth, tables, cid = bearer(shop["token"]), shop["tables"], shop["customer"]["id"]
    assert (await client.get("/api/v1/templates", headers=auth)).status_code == 200  # synced
    await conn.execute(
        tables.query(
            "UPDATE {customers} SET opted_in = false, opt_in_changed_at = '2026-11-30T10:00Z',"
            " opt_in_source = 'WhatsApp: marketing messages stopped' WHERE id = %s"
        ),
        (cid,),
    )
    url = f"/api/v1/customers/{cid}/messages"
    marketing = {"type": "template", "name": "we_miss_you", "language": "en_US",
                 "body_params": ["Ana", "10%"]}  # fmt: skip
    for body, query in ((marketing, ""), ({"type": "text", "body": "sale!"}, "?bulk=true")):
        r = await client.post(url + query, json=body, headers=auth)
        assert r.status_code == 409, r.text
        detail = r.json()["detail"]
        assert "stopped marketing messages on 2026-11-30" in detail and "replies" in detail
    count = "SELECT count(*) AS n FROM {messages}"
    assert (await (await conn.execute(tables.query(count))).fetchone())["n"] == 0
    r = await client.post(url, json={"type": "text", "body": "your order shipped"}, headers=auth)
    assert r.status_code == 202, r.text
    utility = {"type": "template", "name": "order_update", "language": "en_US",
               "body_params": ["#1", "shipped"]}  # fmt: skip
    r = await client.post(url, json=utility, headers=auth)
    assert r.status_code == 202, r.text
    await conn.execute(tables.query("UPDATE {customers} SET opted_in = true"))
    assert (await client.post(url, json=marketing, headers=auth)).status_code == 202
