"""The chat shows customers' edits ("edited", earlier versions on demand) and deletions."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.conversations.factory import add_customer, add_message
from tests.web.conftest import sign_in, user_with_password

CHANGE = "SELECT * FROM wacrm_message_change(%s, %s, %s, %s, %s, %s, NULL, %s)"


async def test_edited_and_deleted_messages_in_the_chat(client, conn):
    ann = await user_with_password(conn, "ann@example.com")
    t, agent_id = ann["tables"], ann["agent"]["id"]
    cid = await add_customer(conn, t, "Carla", phone="+4915100000004")
    edited = await add_message(conn, t, cid, "see you at 5", wamid="wamid.A")
    deleted = await add_message(conn, t, cid, "my card number is 4111", wamid="wamid.B")
    now = datetime.now(UTC)
    await conn.execute(CHANGE, (t.prefix, agent_id, "edit", "wamid.A", "w.E", "at 6", now))
    await conn.execute(CHANGE, (t.prefix, agent_id, "revoke", "wamid.B", "w.R", None, now))
    await sign_in(client, "ann@example.com")
    page = await client.get(f"/chat/{cid}")
    assert page.status_code == 200
    assert "at 6" in page.text and "see you at 5" not in page.text  # on demand only
    assert f"/chat/{cid}/messages/{edited}/versions" in page.text and ">edited<" in page.text
    assert "This message was deleted" in page.text and "4111" not in page.text
    versions = await client.get(f"/chat/{cid}/messages/{edited}/versions")
    assert versions.status_code == 200 and "see you at 5" in versions.text
    # a deleted message has no versions to show; another conversation's message is not found
    gone = await client.get(f"/chat/{cid}/messages/{deleted}/versions")
    assert gone.status_code == 404, gone.text
    other = await add_customer(conn, t, "Dora", phone="+4915100000005")
    assert (await client.get(f"/chat/{other}/messages/{edited}/versions")).status_code == 404
    inbox = await client.get("/inbox/list", headers={"HX-Request": "true"})
    assert "This message was deleted" in inbox.text  # the last message's preview
    api = await client.get(f"/api/v1/conversations/{cid}/messages")
    assert api.status_code == 200, api.text
    items = {m["id"]: m for m in api.json()["items"]}
    assert items[edited]["edited_at"] and items[deleted]["deleted"] is True
