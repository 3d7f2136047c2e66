"""Message-text search: the stored vector of each message (step 32) and the customer's document
of its messages' words (step 56), whichever way the matches are read, captions, edits, the
document's word limit, and step 32 applied to an agent whose messages already exist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from psycopg import sql

from tests.conversations.factory import add_customer, add_message, new_agent
from wacrm.conversations import search, service


async def _ids(conn, t, **kw):
    page = await service.inbox(conn, tables=t, limit=100, **kw)
    return [item["customer_id"] for item in page["items"]]


def _ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


async def _parcel_history(conn, t):
    """Ten customers, customer k writing "parcel" k days ago after a non-matching message."""
    c = [await add_customer(conn, t, f"Buyer {k}", phone=f"4915100001{k:02}") for k in range(10)]
    for k, cid in enumerate(c):
        await add_message(conn, t, cid, "hello there", at=_ago(k + 0.5))
        await add_message(conn, t, cid, f"parcel number {k}", at=_ago(k))
    return c


@pytest.mark.parametrize(
    ("dense", "few"),
    [
        (1, 1000),  # dense among the most active: the inbox walk filtered by the search
        (10**6, 1000),  # not dense, few: the matches read and sorted
        (10**6, 3),  # not dense, but more than `few`: the walk after all
    ],
)
async def test_customers_whose_messages_match_by_last_activity_whichever_way_read(
    conn, monkeypatch, dense, few
):
    monkeypatch.setattr(search, "DENSE_HITS", dense)
    monkeypatch.setattr(search, "FEW_MATCHES", few)
    t = await new_agent(conn)
    c = await _parcel_history(conn, t)
    assert await _ids(conn, t, q="parcel") == c  # by last activity
    assert await _ids(conn, t, q="parcel numb") == c  # the last word as a prefix
    assert await _ids(conn, t, q="number 7") == [c[7]]
    assert await _ids(conn, t, q="parcels") == []
    assert await _ids(conn, t, q="hello") == c


async def test_a_message_without_a_timestamp_is_still_found(conn):
    t = await new_agent(conn)
    c = await _parcel_history(conn, t)
    undated = await add_customer(conn, t, "Undated", phone="4915100002000")
    mid = await add_message(conn, t, undated, "parcel undated", at=_ago(30))
    await conn.execute(t.query('UPDATE {messages} SET "timestamp" = NULL WHERE id = %s'), (mid,))
    assert set(await _ids(conn, t, q="parcel")) == {*c, undated}


async def test_the_document_starts_over_past_its_word_limit(conn):
    t = await new_agent(conn)
    cid = await add_customer(conn, t, "Chatty", phone="4915100003000")
    await add_message(conn, t, cid, "earliest " + " ".join(f"w{k}" for k in range(1990)))
    assert await _ids(conn, t, q="earliest") == [cid]
    await add_message(conn, t, cid, " ".join(f"x{k}" for k in range(20)))  # past 2,000 words
    assert await _ids(conn, t, q="earliest") == []  # older words are gone
    assert await _ids(conn, t, q="x19") == await _ids(conn, t, q="chatty") == [cid]


async def test_caption_words_and_edited_text_are_searched(conn):
    t = await new_agent(conn)
    photo = await add_customer(conn, t, "Photo", phone="4915100000101")
    edit = await add_customer(conn, t, "Edit", phone="4915100000102")
    await add_message(
        conn, t, photo, "", media_type="image", caption="Blue linen dress, size M", at=_ago(1)
    )
    mid = await add_message(conn, t, edit, "first draft", at=_ago(2))
    assert await _ids(conn, t, q="linen dress") == [photo]
    assert await _ids(conn, t, q="draft") == [edit]
    await conn.execute(
        t.query("UPDATE {messages} SET message = 'final words' WHERE id = %s"), (mid,)
    )
    assert await _ids(conn, t, q="final") == [edit]  # an edit adds its words
    assert await _ids(conn, t, q="draft") == [edit]  # and the replaced ones stay
    cur = await conn.execute(
        t.query("SELECT search_vector::text AS v FROM {messages} WHERE id = %s"), (mid,)
    )
    assert (await cur.fetchone())["v"] == "'final' 'words'"  # stripped: no positions


@pytest.mark.parametrize("older", [0, 1_200])  # up to 1,000 messages: UPDATE; more: a rewrite
async def test_step_32_fills_the_vector_of_existing_messages(conn, older):
    """An agent whose tables predate step 32 (as after adoption): every message gets its vector."""
    t = await new_agent(conn)
    gin = t.prefix + "_messages_text_search_idx"  # step 32's GIN (step 56 drops it again)
    fresh = f"CREATE INDEX {gin} ON public.{t.prefix}_messages USING gin (search_vector)"
    # back to the state before step 32: the expression GIN of step 2, no column, no trigger
    trigger = sql.Identifier(t.prefix + "_messages_search_vector")
    await conn.execute(t.query("DROP TRIGGER {tr} ON {messages}", tr=trigger))
    for later in ("customer_search_words", "customer_search_edit"):  # step 56's, on the vector
        await conn.execute(t.query("DROP TRIGGER {tr} ON {messages}", tr=sql.Identifier(later)))
    await conn.execute(t.query("ALTER TABLE {messages} DROP COLUMN search_vector"))
    await conn.execute(
        t.query(
            "CREATE INDEX {idx} ON {messages} USING gin (to_tsvector('simple', message))",
            idx=sql.Identifier(gin),
        )
    )
    await conn.execute(
        "DELETE FROM agent_schema_applied WHERE agent_id = %s AND version = 32", (t.agent_id,)
    )
    customer = await add_customer(conn, t, "Old", phone="4915100000201")
    await add_message(conn, t, customer, "an old invoice", at=_ago(90))
    await add_message(
        conn, t, customer, "", media_type="video", caption="unboxing video", at=_ago(80)
    )
    await add_message(conn, t, customer, "", media_type="image", at=_ago(70))  # no words
    await conn.execute(
        t.query(
            'INSERT INTO {messages} (customer_id, message, direction, "timestamp") '
            "SELECT %s, 'note ' || k, 'outbound', now() - make_interval(days => 100 + k) "
            "FROM generate_series(1, %s) k"
        ),
        (customer, older),
    )
    cur = await conn.execute(
        "SELECT pg_relation_filenode(%s::regclass) AS f", (t.prefix + "_messages",)
    )
    before = (await cur.fetchone())["f"]
    await conn.execute("SELECT wacrm_upgrade_agent(%s)", (t.agent_id,))
    cur = await conn.execute(
        t.query(
            "SELECT count(search_vector) AS filled, count(*) AS n, count(*) FILTER (WHERE "
            "search_vector IS DISTINCT FROM wacrm_message_search_vector(message, caption)) AS wrong "
            "FROM {messages}"
        )
    )
    assert await cur.fetchone() == {"filled": 2 + older, "n": 3 + older, "wrong": 0}
    cur = await conn.execute(
        "SELECT pg_relation_filenode(%s::regclass) AS f", (t.prefix + "_messages",)
    )
    assert ((await cur.fetchone())["f"] != before) == (older > 1_000)  # rewritten only when large
    cur = await conn.execute("SELECT pg_get_indexdef(%s::regclass) AS d", (gin,))
    assert (await cur.fetchone())["d"] == fresh  # the index step 32 defines
    for word in ("invoice", "unboxing"):
        cur = await conn.execute(
            t.query(
                "SELECT customer_id FROM {messages} WHERE search_vector @@ to_tsquery('simple', %s)"
            ),
            (word,),
        )
        assert [r["customer_id"] for r in await cur.fetchall()] == [customer]
    # and the trigger is back: new and edited messages get their vector
    mid = await add_message(conn, t, customer, "brand new words", at=_ago(1))
    await conn.execute(t.query("UPDATE {messages} SET caption = 'shiny' WHERE id = %s"), (mid,))
    cur = await conn.execute(
        t.query("SELECT search_vector::text AS v FROM {messages} WHERE id = %s"), (mid,)
    )
    assert (await cur.fetchone())["v"] == "'brand' 'new' 'shiny' 'words'"
