"""Search through the customers' stored documents: names and message words, paged by last activity."""

from __future__ import annotations

import pytest

from tests.conversations.factory import add_customer, add_message, minutes, new_agent
from wacrm.conversations import search, service


async def _ids(conn, t, **kw):
    page = await service.inbox(conn, tables=t, limit=100, **kw)
    return [item["customer_id"] for item in page["items"]]


@pytest.mark.parametrize(("dense", "few"), [(1, 1000), (10**6, 1000), (10**6, 1)])
async def test_text_search_finds_every_customer_whose_messages_have_the_words(
    conn, monkeypatch, dense, few
):
    """Whichever way: the inbox walk filtered, the matches read and sorted, or walked after all."""
    monkeypatch.setattr(search, "DENSE_HITS", dense)
    monkeypatch.setattr(search, "FEW_MATCHES", few)
    t = await new_agent(conn)
    old = await add_customer(conn, t, "Olga", phone="4915100000001")
    mid = await add_customer(conn, t, "Mia", phone="4915100000002")
    new = await add_customer(conn, t, "Nina", phone="4915100000003")
    await add_message(conn, t, old, "parcel tracking please", at=minutes(1))
    await add_message(conn, t, mid, "where is my parcel", at=minutes(2))
    await add_message(conn, t, new, "parcel arrived", at=minutes(3))
    await add_message(conn, t, old, "thanks", at=minutes(4))  # old is the most active
    assert await _ids(conn, t, q="parcel") == [old, new, mid]  # by last activity
    assert await _ids(conn, t, q="olga") == [old]
    assert await _ids(conn, t, q="parcel thanks") == [old]  # words of different messages
    assert await _ids(conn, t, q="parcel arr") == [new]  # the last word as a prefix
    page = await service.inbox(conn, tables=t, limit=2, q="parcel")
    rest = await service.inbox(conn, tables=t, limit=2, q="parcel", cursor=page["next_cursor"])
    assert [i["customer_id"] for i in page["items"] + rest["items"]] == [old, new, mid]


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
