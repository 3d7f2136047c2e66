"""A private note never reaches WhatsApp (the sandbox records every request it receives)."""

from __future__ import annotations

from typing import Any

from tests.helpers import bearer
from tests.outbound.conftest import wait_until, worker


async def test_a_note_is_never_sent_but_a_message_is(
    client: Any, conn: Any, db_url: str, shop: dict[str, Any]
) -> None:
    sandbox, auth, cid = shop["sandbox"], bearer(shop["token"]), shop["customer"]["id"]
    r = await client.post(
        f"/api/v1/conversations/{cid}/notes", json={"body": "secret: she pays late"}, headers=auth
    )
    assert r.status_code == 201
    async with worker(db_url):
        r = await client.post(
            f"/api/v1/customers/{cid}/messages",
            json={"type": "text", "body": "hello"},
            headers=auth,
        )
        assert r.status_code == 202

        async def one_sent() -> Any:
            return (await sandbox.asent_messages())["count"] >= 1

        assert await wait_until(one_sent)
    sent = await sandbox.asent_messages()
    texts = [str(m) for m in sent["messages"]]
    assert sent["count"] == 1 and "hello" in texts[0]
    assert not any("secret" in t for t in texts)
    cur = await conn.execute("SELECT count(*) AS n FROM outbound_sends")
    assert (await cur.fetchone())["n"] == 1
    # the message records who sent it, and the chat API names them
    chat = (await client.get(f"/api/v1/conversations/{cid}/messages", headers=auth)).json()
    sent = [m for m in chat["items"] if m["direction"] == "outbound"]
    assert sent[0]["sent_by"] == str(shop["user_id"]) and sent[0]["sent_by_name"] == "seller"
