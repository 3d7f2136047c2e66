"""The all-agents rollup: the same figures as counting every agent live, counted again on change."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conversations.factory import add_customer, add_message, new_agent
from wacrm.orders import service as orders
from wacrm.reports import everyone, recent
from wacrm.reports import service as reports

FIGURES = ("messages_in", "messages_out", "new_customers", "response_median_seconds", "responses")


async def _history(conn: Any, tables: Any, k: int, now: datetime) -> None:
    """Runs answered 40 and 20 days ago (settled) and yesterday (recent); orders then and now."""
    cid = await add_customer(conn, tables, f"Hist {k}", phone=f"+4915155500{k:02d}")
    for days, wait in ((40, 30 + k), (20, 600), (1, 90 * (k + 1))):
        at = now - timedelta(days=days)
        await add_message(conn, tables, cid, "question", at=at)
        await add_message(
            conn, tables, cid, "answer", direction="outbound", at=at + timedelta(seconds=wait)
        )
    await add_message(conn, tables, cid, "open", at=now - timedelta(hours=1))
    for status in ("pending", "cancelled"):
        order = await orders.create_order(
            conn,
            tables=tables,
            customer_id=cid,
            items=[{"name": "Tea", "quantity": 1, "price": "3"}],
        )
        if status == "cancelled":
            await orders.change_status(
                conn, tables=tables, order_id=order["id"], status=status, actor_id=None
            )


def _same(got: dict[str, Any], want: dict[str, Any]) -> None:
    for key in FIGURES:
        assert got[key] == want[key], key
    assert [(o["status"], o["count"], o["total"]) for o in got["orders"]] == [
        (o["status"], o["count"], o["total"]) for o in want["orders"]
    ]


async def test_all_agents_figures_equal_the_live_count_of_every_agent(conn: Any) -> None:
    agents = [await new_agent(conn) for _ in range(3)]
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    for k, tables in enumerate(agents[:2]):
        await _history(conn, tables, k, now)
    cycle = await recent.run_cycle(conn)
    assert cycle.counted == 3
    today = now.date()
    for first in (
        today - timedelta(days=6),
        today - timedelta(days=29),
        today - timedelta(days=89),
    ):
        got = await everyone.report(conn, start=first, end=today)
        _same(got, await reports.report(conn, targets=agents, start=first, end=today))
        assert got["as_of"]["agents"] == got["as_of"]["counted"] == 3
    got = await everyone.report(conn, start=today - timedelta(days=29), end=today)
    assert got["totals"]["messages_in"] == 6 and got["responses"] >= 4  # (+ order notices)


async def test_only_agents_whose_tables_changed_are_counted_again(conn: Any) -> None:
    await new_agent(conn)  # stays quiet
    busy = await new_agent(conn)
    assert (await recent.run_cycle(conn)).counted == 2
    assert (await recent.run_cycle(conn)).counted == 0
    cid = await add_customer(conn, busy, "New", phone="+4915155599999")
    await add_message(conn, busy, cid, "hi")
    await conn.execute("SELECT pg_stat_force_next_flush()")  # counters flushed when idle
    today = datetime.now(UTC).date()
    deadline = time.monotonic() + 20
    counted = 0
    while counted == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        counted = await recent.recount_changed(conn)
    assert counted == 1
    got = await everyone.report(conn, start=today, end=today)
    assert got["totals"]["messages_in"] == 1 and got["totals"]["new_customers"] == 1
    assert await recent.recount_changed(conn, every=True) == 2
