"""Inbound messages' words reach the customers' search document in the batch's own UPDATE."""

from __future__ import annotations

from typing import Any

from tests.helpers import make_agent_user
from tests.inbound.conftest import APP_SECRET, PNID, rows
from tests.inbound.test_bulk import OTHER_PNID, _contact, _hook, _text
from wacrm.conversations import service as conversations
from wacrm.inbound.ingest import ingest
from wacrm.inbound.routing import RouteCache
from wacrm.numbers import service as numbers


def _hooks(pnid: str) -> list[dict[str, Any]]:
    p1, p2 = "4915100000001", "4915100000002"
    return [
        _hook(
            pnid,
            [_text("wamid.a", 1, phone=p1, body="red sneakers")],
            [_contact(phone=p1, name="Ann")],
        ),
        _hook(
            pnid,
            [_text("wamid.b", 2, phone=p2, body="invoice please")],
            [_contact(phone=p2, name="Bob")],
        ),
        _hook(pnid, [_text("wamid.c", 3, phone=p1, body="size 42")], [_contact(phone=p1)]),
        _hook(pnid, [_text("wamid.d", 4, phone=p2, body="paid today")], [_contact(phone=p2)]),
    ]


async def _customer_writes(conn: Any, tables: Any, pnid: str) -> int:
    """The customers' row versions written by a batch of new messages (after their first ones)."""
    hooks = _hooks(pnid)
    await ingest(conn, hooks[:2], RouteCache())
    async with conn.transaction():
        await ingest(conn, hooks[2:], RouteCache())
        (written,) = await rows(
            conn,
            "SELECT pg_stat_get_xact_tuples_updated(%s::regclass) AS n",
            f"{tables.prefix}_customers",
        )
    return int(written["n"])


async def test_words_written_with_the_customers_update(conn: Any, agent: Any) -> None:
    other = await make_agent_user(conn, "other@example.com")
    await numbers.configure(
        conn,
        user_id=other["user_id"],
        whatsapp_number="+15550002222",
        phone_number_id=OTHER_PNID,
        business_account_id="102290129340399",
        access_token="EAAB-test-token",
        app_secret=APP_SECRET,
        verify_token="verify-token-def",
    )
    t, quiet = agent["tables"], other["tables"]
    # the other agent without step 56's statement trigger: the same number of customer writes
    await conn.execute(quiet.query("ALTER TABLE {messages} DISABLE TRIGGER customer_search_words"))
    assert await _customer_writes(conn, t, PNID) == await _customer_writes(conn, quiet, OTHER_PNID)
    for tables in (t, quiet):
        docs = {
            r["name"]: r["doc"]
            for r in await rows(
                conn, tables.query("SELECT name, search_doc::text AS doc FROM {customers}")
            )
        }
        assert docs == {
            "Ann": "'42' 'ann' 'red' 'size' 'sneakers'",
            "Bob": "'bob' 'invoice' 'paid' 'please' 'today'",
        }
    page = await conversations.inbox(conn, tables=t, q="sneakers 42")
    assert [i["name"] for i in page["items"]] == ["Ann"]
