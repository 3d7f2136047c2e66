"""The periodic job fills the dashboard's rollup when a worker starts (a fresh install's history)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import sql

from tests.conversations.factory import add_customer, add_message, new_agent
from wacrm.reports import rollup
from wacrm.worker import run_worker


async def test_a_starting_worker_fills_every_agents_settled_days(db_url: str, conn: Any) -> None:
    agents = [await new_agent(conn), await new_agent(conn)]
    now = datetime.now(UTC)
    for k, t in enumerate(agents):
        cid = await add_customer(conn, t, "Old", phone=f"+49151000005{k}")
        await add_message(conn, t, cid, "a year ago", at=now - timedelta(days=365))
        await add_message(
            conn, t, cid, "answer", direction="outbound", at=now - timedelta(days=300)
        )
    until = rollup.settled_until(now.date())
    done = [{"filled_until": until, "open_runs": True}] * 2
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(db_url, concurrency=2, stop=stop))
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            cur = await conn.execute("SELECT filled_until, open_runs FROM report_agents")
            rows = await cur.fetchall()
            if rows == done:  # a year is filled in chunks: wait for the last one
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    assert rows == done
    cur = await conn.execute(
        "SELECT day, messages_in, messages_out, response_seconds FROM report_days ORDER BY agent_id, day"
    )
    asked = {"day": (now - timedelta(days=365)).date(), "messages_in": 1, "messages_out": 0}
    answered = {"day": (now - timedelta(days=300)).date(), "messages_in": 0, "messages_out": 1}
    assert (
        await cur.fetchall()
        == [
            {**asked, "response_seconds": []},
            {**answered, "response_seconds": [65 * 86400.0]},
        ]
        * 2
    )


async def test_one_agent_failing_does_not_hold_up_the_others(conn: Any, caplog: Any) -> None:
    broken, fine = await new_agent(conn), await new_agent(conn)
    gone = sql.Identifier(f"{broken.prefix}_messages_gone")
    await conn.execute(broken.query("ALTER TABLE {messages} RENAME TO {gone}", gone=gone))
    assert await rollup.refresh_all(conn) == 1
    cur = await conn.execute("SELECT agent_id FROM report_agents")
    assert [r["agent_id"] for r in await cur.fetchall()] == [fine.agent_id]
    assert f"agent {broken.agent_id}: the dashboard rollup could not be filled" in caplog.text
