"""Chat pages and mark-read."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from tests.conversations.factory import add_customer, add_message, minutes, new_agent
from wacrm.conversations import service
from wacrm.conversations.cursors import InvalidCursorError


async def test_newest_first_pages_of_50_without_gaps_while_messages_arrive(conn):
    t = await new_agent(conn)
    cid = await add_customer(conn, t, "Pat", phone="4479461111")
    other = await add_customer(conn, t, "Other", phone="4479462222")
    ids = [
        await add_message(conn, t, cid, f"m{i}", at=minutes(i // 2)) for i in range(120)
    ]  # ties in time
    await add_message(conn, t, other, "not this chat", at=minutes(30))
    first = await service.chat(conn, tables=t, customer_id=cid)
    assert len(first["items"]) == 50
    assert [m["id"] for m in first["items"]] == ids[::-1][:50]
    # new messages arrive while the agent scrolls back: older pages are unaffected
    for i in range(3):
        await add_message(conn, t, cid, f"new {i}", at=minutes(500 + i))
    seen = [m["id"] for m in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = await service.chat(conn, tables=t, customer_id=cid, cursor=cursor)
        seen.extend(m["id"] for m in page["items"])
        cursor = page["next_cursor"]
    assert seen == ids[::-1]


async def test_message_details_for_the_ui(conn):
    t = await new_agent(conn)
    cid = await add_customer(conn, t, "Pat", phone="4479463333")
    cur = await conn.execute(
        t.query("INSERT INTO {orders} (customer_id) VALUES (%s) RETURNING id"), (cid,)
    )
    order_id = (await cur.fetchone())["id"]
    await conn.execute(
        t.query(
            "INSERT INTO {orders_items} (order_id, name, quantity, price) VALUES (%s, 'a', 2, 3)"
        ),
        (order_id,),
    )
    photo = await add_message(
        conn,
        t,
        cid,
        "",
        at=minutes(1),
        media_type="image",
        caption="look",
        wamid="wamid.photo",
        media_url="/media/abc",
        media_mime_type="image/jpeg",
        media_size=1234,
        media_status="stored",
        reaction="❤️",
    )
    await add_message(
        conn,
        t,
        cid,
        "",
        at=minutes(2),
        media_type="location",
        raw={
            "type": "location",
            "location": {
                "latitude": 52.5,
                "longitude": 13.4,
                "name": "Shop",
                "address": "Main St 1",
            },
        },
    )
    await add_message(
        conn,
        t,
        cid,
        "",
        at=minutes(3),
        media_type="contacts",
        raw={
            "type": "contacts",
            "contacts": [
                {"name": {"formatted_name": "Ann Lee"}, "phones": [{"phone": "+1 555 0100"}]}
            ],
        },
    )
    await add_message(conn, t, cid, "is this in red?", at=minutes(4), context_wamid="wamid.photo")
    await add_message(conn, t, cid, "dangling", at=minutes(5), context_wamid="wamid.unknown")
    await add_message(
        conn,
        t,
        cid,
        "Sorry",
        direction="outbound",
        at=minutes(6),
        status="failed",
        error_code=131047,
        error_title="Re-engagement message",
        error_details="More than 24 hours have passed",
    )
    await add_message(conn, t, cid, "", at=minutes(7), media_type="order", order_id=order_id)
    await add_message(
        conn,
        t,
        cid,
        "",
        at=minutes(8),
        media_type="reaction",
        raw={"type": "reaction", "reaction": {"message_id": "wamid.photo", "emoji": "❤️"}},
    )
    items = (await service.chat(conn, tables=t, customer_id=cid))["items"]
    assert [m["type"] for m in items] == [
        "order",
        "text",
        "text",
        "text",
        "contacts",
        "location",
        "image",
    ]
    order, failed, dangling, reply, contacts, location, image = items
    assert order["order"] == {
        "id": order_id,
        "unit_count": 2,
        "item_count": 2,
        "url": f"/api/v1/orders/{order_id}",
    }
    assert failed["status"] == "failed"
    assert failed["error"] == {
        "code": 131047,
        "title": "Re-engagement message",
        "details": "More than 24 hours have passed",
    }
    assert dangling["reply_to"] == {"wamid": "wamid.unknown", "found": False}
    assert reply["reply_to"] == {
        "wamid": "wamid.photo",
        "found": True,
        "id": photo,
        "direction": "inbound",
        "type": "image",
        "preview": "📷 look",
    }
    assert contacts["contacts"] == [{"name": "Ann Lee", "phones": ["+1 555 0100"], "emails": []}]
    assert location["location"]["latitude"] == 52.5 and location["location"]["name"] == "Shop"
    assert "mlat=52.5" in location["location"]["map_url"]
    assert image["media"]["url"] == "/media/abc" and image["media"]["size"] == 1234
    assert image["caption"] == "look" and image["reaction"] == "❤️"
    assert image["error"] is None and image["reply_to"] is None


async def test_bad_chat_cursor(conn):
    t = await new_agent(conn)
    cid = await add_customer(conn, t, "Pat", phone="4479464444")
    with pytest.raises(InvalidCursorError):
        await service.chat(conn, tables=t, customer_id=cid, cursor="!!")
    with pytest.raises(service.ConversationNotFoundError):
        await service.chat(conn, tables=t, customer_id=cid + 1)


async def test_mark_read_clears_unread_and_notifies(conn, db_url):
    t = await new_agent(conn)
    cid = await add_customer(conn, t, "Pat", phone="4479465555")
    other = await add_customer(conn, t, "Other", phone="4479466666")
    for i in range(3):
        await add_message(conn, t, cid, f"in {i}", at=minutes(i))
    await add_message(conn, t, other, "unrelated", at=minutes(9))
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as listener:
        await listener.execute("LISTEN wacrm_events")
        result = await service.mark_read(conn, tables=t, agent_id=t.agent_id, customer_id=cid)
        note = await asyncio.wait_for(anext(listener.notifies()), 5)
    assert result["marked"] == 3
    assert '"kind":"customer"' in note.payload and f'"customer_id":{cid}' in note.payload
    conv = await service.conversation(conn, tables=t, customer_id=cid)
    assert conv["unread_count"] == 0
    assert all(m["is_read"] for m in (await service.chat(conn, tables=t, customer_id=cid))["items"])
    assert (await service.conversation(conn, tables=t, customer_id=other))["unread_count"] == 1
    again = await service.mark_read(conn, tables=t, agent_id=t.agent_id, customer_id=cid)
    assert again["marked"] == 0
    with pytest.raises(service.ConversationNotFoundError):
        await service.mark_read(conn, tables=t, agent_id=t.agent_id, customer_id=cid + 100)
