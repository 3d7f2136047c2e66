"""Inbox: ordering, keyset pages, previews, window state, filters, search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conversations.factory import add_customer, add_message, minutes, new_agent
from wacrm.conversations import service
from wacrm.conversations.cursors import InvalidCursorError, encode


async def _all_pages(conn, t, **kw):
    seen, cursor = [], None
    while True:
        page = await service.inbox(conn, tables=t, cursor=cursor, **kw)
        seen.extend(item["customer_id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


async def test_ordered_by_last_activity_and_paged_without_gaps(conn):
    t = await new_agent(conn)
    ids = []
    for i in range(7):
        cid = await add_customer(conn, t, f"Customer {i}", phone=f"4915100000{i:02d}")
        ids.append(cid)
    # activity order: customer 3 newest, then 0, then the rest; two share a timestamp (id breaks the tie)
    for i, cid in enumerate(ids):
        await add_message(conn, t, cid, f"hello {i}", at=minutes(i if i not in (3, 0) else 100 + i))
    await add_message(conn, t, ids[5], "same time", at=minutes(4), touch=True)
    quiet = await add_customer(conn, t, "No messages yet", phone="4915199999")
    expected_active = sorted(
        ids,
        key=lambda c: ({ids[3]: 103, ids[0]: 100, ids[5]: 4}.get(c, ids.index(c)), c),
        reverse=True,
    )
    seen = await _all_pages(conn, t, limit=2)
    assert seen == expected_active + [quiet]
    assert len(seen) == len(set(seen))


async def test_pages_have_no_duplicates_while_messages_arrive(conn):
    t = await new_agent(conn)
    ids = [await add_customer(conn, t, f"C{i}", phone=f"3361234{i:04d}") for i in range(10)]
    for i, cid in enumerate(ids):
        await add_message(conn, t, cid, "x", at=minutes(i))
    first = await service.inbox(conn, tables=t, limit=4)
    assert [c["customer_id"] for c in first["items"]] == ids[::-1][:4]
    # a customer not yet shown writes again: it moves to the top, a new customer appears too
    await add_message(conn, t, ids[2], "again", at=minutes(50))
    newcomer = await add_customer(conn, t, "New", phone="33699999999")
    await add_message(conn, t, newcomer, "hi", at=minutes(51))
    rest, cursor = [], first["next_cursor"]
    while cursor:
        page = await service.inbox(conn, tables=t, limit=4, cursor=cursor)
        rest.extend(c["customer_id"] for c in page["items"])
        cursor = page["next_cursor"]
    shown = [c["customer_id"] for c in first["items"]] + rest
    assert len(shown) == len(set(shown))
    # everyone whose position did not jump above the cursor is listed exactly once
    assert set(shown) == set(ids) - {ids[2]}
    top = await service.inbox(conn, tables=t, limit=2)
    assert [c["customer_id"] for c in top["items"]] == [newcomer, ids[2]]


PREVIEW_CASES = [
    ({"text": "Hello there"}, "Hello there"),
    ({"media_type": "image"}, "📷 Photo"),
    ({"media_type": "image", "caption": "new shoes"}, "📷 new shoes"),
    ({"media_type": "video"}, "🎥 Video"),
    (
        {"media_type": "audio", "raw": {"type": "audio", "audio": {"id": "1", "voice": True}}},
        "🎤 Voice message",
    ),
    ({"media_type": "audio", "media_mime_type": "audio/mpeg"}, "🎵 Audio"),
    ({"media_type": "document", "media_filename": "invoice.pdf"}, "📄 invoice.pdf"),
    ({"media_type": "sticker"}, "💟 Sticker"),
    (
        {
            "media_type": "location",
            "raw": {"type": "location", "location": {"latitude": 1, "longitude": 2}},
        },
        "📍 Location",
    ),
    (
        {
            "media_type": "location",
            "raw": {"location": {"latitude": 1, "longitude": 2, "name": "Main St shop"}},
        },
        "📍 Main St shop",
    ),
    (
        {"media_type": "contacts", "raw": {"contacts": [{"name": {"formatted_name": "Ann Lee"}}]}},
        "👤 Ann Lee",
    ),
    ({"media_type": "contacts", "raw": {"contacts": [{}, {}]}}, "👤 2 contacts"),
    (
        {
            "media_type": "order",
            "raw": {
                "type": "order",
                "order": {
                    "catalog_id": "c",
                    "product_items": [
                        {
                            "product_retailer_id": "a",
                            "quantity": 2,
                            "item_price": 5,
                            "currency": "USD",
                        },
                        {
                            "product_retailer_id": "b",
                            "quantity": 1,
                            "item_price": 5,
                            "currency": "USD",
                        },
                    ],
                },
            },
        },
        "🛒 Order of 3 units",
    ),
    ({"media_type": "unsupported"}, "⚠️ Unsupported message"),
]


@pytest.mark.parametrize(("cols", "expected"), PREVIEW_CASES)
async def test_last_message_preview_by_type(conn, cols, expected):
    t = await new_agent(conn)
    cid = await add_customer(conn, t, "Pat", phone="4479460000")
    cols = dict(cols)
    text = cols.pop("text", "")
    await add_message(conn, t, cid, text, at=minutes(1), **cols)
    item = (await service.inbox(conn, tables=t))["items"][0]
    assert item["last_message"]["preview"] == expected


async def test_reaction_is_not_a_preview_and_order_counts_linked_items(conn):
    t = await new_agent(conn)
    cid = await add_customer(conn, t, "Pat", phone="4479460001")
    cur = await conn.execute(
        t.query("INSERT INTO {orders} (customer_id) VALUES (%s) RETURNING id"), (cid,)
    )
    order_id = (await cur.fetchone())["id"]
    await conn.execute(
        t.query(
            "INSERT INTO {orders_items} (order_id, name, quantity, price) VALUES "
            "(%s, 'a', 4, 1), (%s, 'b', 1, 2)"
        ),
        (order_id, order_id),
    )
    await add_message(conn, t, cid, "", at=minutes(1), media_type="order", order_id=order_id)
    await add_message(
        conn,
        t,
        cid,
        "",
        at=minutes(2),
        media_type="reaction",
        wa_type="reaction",
        raw={"type": "reaction", "reaction": {"emoji": "👍"}},
    )
    item = (await service.inbox(conn, tables=t))["items"][0]
    assert item["last_message"]["preview"] == "🛒 Order of 5 units"
    assert item["has_open_order"] is True
    await conn.execute(t.query("UPDATE {orders} SET status = 'delivered'"))
    assert (await service.inbox(conn, tables=t))["items"][0]["has_open_order"] is False


async def test_direction_status_unread_and_window_state(conn):
    t = await new_agent(conn)
    now = datetime.now(UTC)
    fresh = await add_customer(conn, t, "Fresh", phone="111000001")
    await add_message(conn, t, fresh, "hi", at=now - timedelta(hours=1))
    await add_message(conn, t, fresh, "hi again", at=now - timedelta(minutes=30))
    stale = await add_customer(conn, t, "Stale", phone="111000002")
    await add_message(conn, t, stale, "old", at=now - timedelta(hours=30))
    await add_message(
        conn,
        t,
        stale,
        "reply",
        direction="outbound",
        status="delivered",
        at=now - timedelta(hours=2),
    )
    never = await add_customer(conn, t, "Never wrote", phone="111000003")
    await add_message(
        conn,
        t,
        never,
        "template",
        direction="outbound",
        media_type="template",
        status="sent",
        at=now - timedelta(hours=3),
    )
    items = {c["customer_id"]: c for c in (await service.inbox(conn, tables=t))["items"]}
    assert items[fresh]["window"]["state"] == "open"
    assert items[fresh]["window"]["closes_at"] == now - timedelta(minutes=30) + timedelta(hours=24)
    assert items[fresh]["unread_count"] == 2
    assert items[stale]["window"]["state"] == "closed"
    assert items[stale]["last_message"]["direction"] == "outbound"
    assert items[stale]["last_message"]["status"] == "delivered"
    assert items[never]["window"] == {"state": "closed", "closes_at": None}
    assert items[never]["last_message"]["preview"] == "📋 template"


async def test_filters_unread_and_open_order(conn):
    t = await new_agent(conn)
    a = await add_customer(conn, t, "A", phone="222000001")
    b = await add_customer(conn, t, "B", phone="222000002")
    c = await add_customer(conn, t, "C", phone="222000003")
    await add_message(conn, t, a, "in", at=minutes(1))
    await add_message(conn, t, b, "out", direction="outbound", at=minutes(2))
    await add_message(conn, t, c, "in", at=minutes(3))
    await conn.execute(
        t.query(
            "INSERT INTO {orders} (customer_id, status) VALUES (%s, 'shipped'), (%s, 'cancelled')"
        ),
        (b, c),
    )
    assert await _all_pages(conn, t, unread=True) == [c, a]
    assert await _all_pages(conn, t, has_open_order=True) == [b]
    assert await _all_pages(conn, t, unread=True, has_open_order=True) == []


async def test_search_by_name_username_phone_and_message_text(conn):
    t = await new_agent(conn)
    hans = await add_customer(conn, t, "Hans Müller", phone="+4915112345678")
    ann = await add_customer(conn, t, "Ann", phone=None, username="annie_shop")
    pct = await add_customer(conn, t, "100% Cotton", phone="+4420000000")
    bob = await add_customer(conn, t, "Bob", phone="+33611111111")
    for i, cid in enumerate((hans, ann, pct, bob)):
        await add_message(conn, t, cid, "hello", at=minutes(i))
    await add_message(conn, t, bob, "Do you have the red sneakers in size 42?", at=minutes(10))

    async def hits(q):
        return set(await _all_pages(conn, t, q=q))

    assert await hits("hans") == {hans}
    assert await hits("Mül") == {hans}  # a word inside the name
    assert await hits("annie") == {ann}
    assert await hits("+49 151 123") == {hans}
    assert await hits("100%") == {pct}
    assert await hits("%") == set()  # LIKE wildcards are taken literally
    assert await hits("red sneak") == {bob}
    assert await hits("sneakers") == {bob}
    assert await hits("purple") == set()
    assert await hits("'); DROP TABLE x; --") == set()


async def test_bad_cursor_and_limit(conn):
    t = await new_agent(conn)
    for bad in ("nonsense", "e30", encode(None, 0), "W251bGwsICJ4Il0"):
        with pytest.raises(InvalidCursorError):
            await service.inbox(conn, tables=t, cursor=bad)
    with pytest.raises(ValueError):
        await service.inbox(conn, tables=t, limit=0)


async def test_other_agents_customer_is_not_found(conn):
    mine, theirs = await new_agent(conn), await new_agent(conn)
    await add_customer(conn, mine, "Mine", phone="555000001")
    other = await add_customer(conn, theirs, "Theirs", phone="555000002")
    other = other + 1000  # ids are per agent; make sure this id does not exist in mine
    with pytest.raises(service.ConversationNotFoundError):
        await service.conversation(conn, tables=mine, customer_id=other)
    with pytest.raises(service.ConversationNotFoundError):
        await service.chat(conn, tables=mine, customer_id=other)
