"""A number in coexistence imports its chat history (origin 'history'): the last hour of it is no
customer writing now, so it gets neither a greeting nor an away message; a live message does."""

from __future__ import annotations

from typing import Any

from tests.helpers import make_agent_user
from tests.outbound.conftest import add_customer
from wacrm.away import service as away

INSERT = """INSERT INTO {messages} (customer_id, message, direction, status, "timestamp", origin)
SELECT %s, 'hi', 'inbound', 'received', now() - make_interval(mins => g), %s
FROM generate_series(5, 15, 5) g"""


async def test_imported_history_gets_no_greeting_nor_away_message(conn: Any) -> None:
    user = await make_agent_user(conn, "shop@example.com")
    tables = user["tables"]
    await away.save_settings(
        conn,
        agent_id=user["agent"]["id"],
        hours=away.parse_hours({}),  # always closed
        time_zone="Europe/Berlin",
        holidays=[],
        away_enabled=True,
        away_text="We are closed.",
        away_every_hours=24,
        greeting_enabled=True,
        greeting_text="Welcome!",
    )
    from_history = await add_customer(conn, tables, "+4915123456701")
    writing_now = await add_customer(conn, tables, "+4915123456702")
    await conn.execute(tables.query(INSERT), (from_history["id"], "history"))
    await conn.execute(tables.query(INSERT), (writing_now["id"], None))
    cur = await conn.execute("SELECT customer_id, kind FROM auto_replies_due ORDER BY kind")
    assert [(r["customer_id"], r["kind"]) for r in await cur.fetchall()] == [
        (writing_now["id"], "away"),
        (writing_now["id"], "greeting"),
    ]


async def test_stop_in_imported_history_changes_no_opt_in(conn: Any) -> None:
    user = await make_agent_user(conn, "shop@example.com")
    tables = user["tables"]
    old = await add_customer(conn, tables, "+4915123456703")
    now = await add_customer(conn, tables, "+4915123456704")
    stop = """INSERT INTO {messages} (customer_id, message, direction, status, "timestamp", origin)
              VALUES (%s, 'STOP', 'inbound', 'received', now() - interval '90 days', %s)"""
    await conn.execute(tables.query(stop), (old["id"], "history"))
    await conn.execute(tables.query(stop), (now["id"], None))
    cur = await conn.execute(tables.query("SELECT id, opted_in FROM {customers} ORDER BY id"))
    assert [(r["id"], r["opted_in"]) for r in await cur.fetchall()] == [
        (old["id"], None),
        (now["id"], False),
    ]
