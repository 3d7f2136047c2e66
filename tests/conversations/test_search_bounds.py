"""Search stays bounded: message text looks at the newest MESSAGE_HITS matches only; names always count."""

from __future__ import annotations

from tests.conversations.factory import add_customer, add_message, minutes, new_agent
from wacrm.conversations import service


async def _ids(conn, t, **kw):
    page = await service.inbox(conn, tables=t, limit=100, **kw)
    return [item["customer_id"] for item in page["items"]]


async def test_text_search_takes_the_newest_matching_messages(conn, monkeypatch):
    monkeypatch.setattr(service, "MESSAGE_HITS", 2)
    t = await new_agent(conn)
    old = await add_customer(conn, t, "Olga", phone="4915100000001")
    mid = await add_customer(conn, t, "Mia", phone="4915100000002")
    new = await add_customer(conn, t, "Nina", phone="4915100000003")
    await add_message(conn, t, old, "parcel tracking please", at=minutes(1))
    await add_message(conn, t, mid, "where is my parcel", at=minutes(2))
    await add_message(conn, t, new, "parcel arrived", at=minutes(3))
    await add_message(
        conn, t, old, "thanks", at=minutes(4)
    )  # old is the most active, yet its match is oldest
    assert set(await _ids(conn, t, q="parcel")) == {mid, new}
    assert await _ids(conn, t, q="olga") == [old]  # name matches are not capped
    monkeypatch.setattr(service, "MESSAGE_HITS", 200)
    assert await _ids(conn, t, q="parcel") == [old, new, mid]  # by last activity


async def test_search_combines_with_filters_and_an_empty_match(conn):
    t = await new_agent(conn)
    a = await add_customer(conn, t, "Anna", phone="4915100000011")
    b = await add_customer(conn, t, "Anton", phone="4915100000012")
    await add_message(conn, t, a, "hi", at=minutes(1))
    await add_message(conn, t, b, "hi", at=minutes(2))
    await conn.execute(
        t.query("INSERT INTO {orders} (customer_id, status) VALUES (%s, 'pending')"), (a,)
    )
    assert await _ids(conn, t, q="an") == [b, a]
    assert await _ids(conn, t, q="an", has_open_order=True) == [a]
    assert await _ids(conn, t, q="zzz") == []
