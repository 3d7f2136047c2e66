"""Item 13.9: a phone number is found however it is typed, through indexes (no table scan)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conversations.factory import add_customer, add_message, minutes, new_agent
from tests.helpers import resolve_customer
from wacrm.conversations import search, service
from wacrm.customers.phones import PhoneQuery, match_sql, phone_match


async def _hits(conn: Any, t: Any, q: str) -> set[int]:
    page = await service.inbox(conn, tables=t, limit=100, q=q)
    return {item["customer_id"] for item in page["items"]}


@pytest.mark.parametrize(
    ("typed", "query"),
    [
        ("+49 176 12345678", PhoneQuery(("+4917612345678",), ())),
        ("0049 176 12345678", PhoneQuery(("+4917612345678",), ())),
        ("+49 (0)176 12345678", PhoneQuery(("+49017612345678", "+4917612345678"), ())),
        ("(415) 555-0100", PhoneQuery(("+4155550100",), ("4155550100",))),
        ("0176 12345678", PhoneQuery(("+017612345678",), ("017612345678", "17612345678"))),
        ("1 2", None),  # too few digits for a number
        ("Ana 12345678", None),  # words: not a number
    ],
)
def test_phone_match_normalizes_what_is_typed(typed, query):
    assert phone_match(typed) == query


def test_match_sql_escapes_and_reverses():
    condition, params = match_sql(PhoneQuery(("+4917",), ("5678",)), column="s.phone")
    assert condition == "(s.phone LIKE %(phone_p0)s OR reverse(s.phone) LIKE %(phone_s0)s)"
    assert params == {"phone_p0": "+4917%", "phone_s0": "8765%"}


async def test_every_way_of_typing_a_number_finds_the_customer(conn):
    t = await new_agent(conn)
    # stored as inbound stores them: E.164 from Meta's wa_id
    de = await resolve_customer(conn, tables=t, wa_id="4917612345678", bsuid=None)
    us = await resolve_customer(conn, tables=t, wa_id="14155550100", bsuid=None)
    fr = await resolve_customer(conn, tables=t, wa_id="33698765432", bsuid=None)
    ru = await resolve_customer(conn, tables=t, wa_id="79123456789", bsuid=None)
    other = await add_customer(conn, t, "Other", phone="+4930123456")
    for i, cid in enumerate((de, us, fr, ru, other)):
        await add_message(conn, t, cid, "hello", at=minutes(i))
    for typed in (
        "4917612345678",
        "+4917612345678",
        "+49 176 12345678",
        "+49 (0)176 12345678",
        "0049 176 1234 5678",
        "0176 12345678",  # the German national format
        "0176-123 456 78",
        "12345678",  # the last digits
        "345678",
        "+49 176",  # the start
    ):
        assert await _hits(conn, t, typed) == {de}, typed
    for typed in (
        "+1 (415) 555-0100",
        "(415) 555-0100",
        "415.555.0100",
        "1 415 555 0100",
        "555-0100",
    ):
        assert await _hits(conn, t, typed) == {us}, typed
    assert await _hits(conn, t, "06 98 76 54 32") == {fr}
    assert await _hits(conn, t, "8 (912) 345-67-89") == {ru}
    assert await _hits(conn, t, "+49") == {de, other}
    assert await _hits(conn, t, "0176 99999999") == set()
    assert await _hits(conn, t, "45678") == set()  # 5 digits: a start only, never an end


class _Recorder:
    """A connection that records the statements it runs (to EXPLAIN them afterwards)."""

    def __init__(self, conn: Any) -> None:
        self.conn, self.statements = conn, []

    async def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
        self.statements.append((query, params))
        return await self.conn.execute(query, params, **kw)

    def transaction(self) -> Any:
        return self.conn.transaction()


async def _fill(conn: Any, t: Any, *, customers_n: int, messages_n: int) -> None:
    await conn.execute(
        t.query(
            "INSERT INTO {customers} (name, phone, wa_id, last_message_at)"
            " SELECT 'Customer ' || g, '+491' || (5000000000 + g * 7919 %% 999999999)::text,"
            " '491' || (5000000000 + g * 7919 %% 999999999)::text, now() - g * interval '1 min'"
            " FROM generate_series(1, %s) g"
        ),
        (customers_n,),
    )
    if messages_n:
        await conn.execute(
            t.query(
                'INSERT INTO {messages} (customer_id, message, direction, "timestamp")'
                " SELECT 1 + g %% %s, 'message number ' || g, 'inbound',"
                " now() - g * interval '1 s' FROM generate_series(1, %s) g"
            ),
            (customers_n, messages_n),
        )
    await conn.execute(t.query("ANALYZE {customers}"))
    await conn.execute(t.query("ANALYZE {messages}"))


async def _plans(conn: Any, t: Any, typed: str) -> list[str]:
    recorder = _Recorder(conn)
    await search.search_ids(recorder, t, search.Search(typed))  # type: ignore[arg-type]
    plans = []
    for query, params in recorder.statements:
        text = query if isinstance(query, str) else query.as_string(conn)
        if not text.lstrip().upper().startswith("SELECT"):
            continue
        cur = await conn.execute("EXPLAIN " + text, params)
        plans.append("\n".join(r["QUERY PLAN"] for r in await cur.fetchall()))
    return plans


TYPED = ("+49 176 12345678", "0176 12345678", "4917612345678", "12345678", "(415) 555-0100")


async def _assert_no_table_scan(conn: Any, t: Any, *, tables: tuple[str, ...]) -> None:
    """No sequential scan of the named tables in any statement the search runs."""
    target = await resolve_customer(conn, tables=t, wa_id="4917612345678", bsuid=None)
    await conn.execute(t.query("ANALYZE {customers}"))
    for typed in TYPED:
        plans = await _plans(conn, t, typed)
        assert plans, typed
        for plan in plans:
            for table in tables:
                assert f"Seq Scan on {table}" not in plan, f"{typed}:\n{plan}"
        assert "phone_suffix_idx" in "".join(plans) or typed.startswith("+"), typed
    assert target in await _hits(conn, t, "0176 12345678")


async def test_phone_search_reads_indexes_at_50k_customers(conn):
    t = await new_agent(conn)
    await _fill(conn, t, customers_n=50_000, messages_n=20_000)
    # (20,000 messages are few enough that reading them all is the cheaper plan)
    await _assert_no_table_scan(conn, t, tables=(f"{t.prefix}_customers",))


@pytest.mark.slow
async def test_phone_search_reads_indexes_at_1m_messages(conn):
    t = await new_agent(conn)
    await _fill(conn, t, customers_n=50_000, messages_n=1_000_000)
    await _assert_no_table_scan(conn, t, tables=(f"{t.prefix}_customers", f"{t.prefix}_messages"))
