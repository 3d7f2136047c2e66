"""The median response time: live, from the rollup and from both, against a per-run lookup.

Definition: a run starts at an inbound message whose previous message (by timestamp, id, over the
customer's whole history) is outbound, or that is the customer's first message; its reply is the
earliest outbound message at or after its start; it counts in the period that holds its reply.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.conversations.factory import add_customer, new_agent
from wacrm.reports import rollup
from wacrm.reports import service as reports

# The oracle: one lookup per run start over the whole history (no windows, no rollup).
LOOKUP = (
    "SELECT extract(epoch FROM r.reply - f.ts) AS seconds FROM ("
    ' SELECT customer_id, "timestamp" AS ts, direction,'
    '  lag(direction) OVER (PARTITION BY customer_id ORDER BY "timestamp", id) AS prev'
    " FROM {messages}) f"
    ' CROSS JOIN LATERAL (SELECT min(o."timestamp") AS reply FROM {messages} o'
    "  WHERE o.customer_id = f.customer_id AND o.direction = 'outbound' AND o.\"timestamp\" >= f.ts) r"
    " WHERE f.direction = 'inbound' AND f.prev IS DISTINCT FROM 'inbound'"
    " AND r.reply >= %(start)s AND r.reply < %(end)s"
)
INSERT = (
    'INSERT INTO {messages} (customer_id, message, direction, "timestamp") VALUES (%s, %s, %s, %s)'
)
TODAY = datetime.now(UTC).date()
DAY0 = TODAY - timedelta(days=24)  # 16 settled days (before today - 8) and 9 live ones


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


async def _fill(conn, tables, rnd: random.Random, customers: int, messages: int) -> list[int]:
    """Whole-second timestamps over 25 days (ties within a customer are common), both directions;
    customers who write for weeks without an answer (runs open across many midnights)."""
    ids = [
        await add_customer(conn, tables, f"C{i}", phone=f"+49151{tables.agent_id:03d}{i:05d}")
        for i in range(customers)
    ]
    rows = []
    for _ in range(messages):
        customer = rnd.choice(ids)
        quiet = customer % 4 == 0  # answered rarely
        direction = rnd.choice(("inbound",) * (12 if quiet else 2) + ("outbound",))
        at = _midnight(DAY0) + timedelta(
            seconds=rnd.randrange(25 * 86400) // 7200 * 7200 + rnd.choice((0, 0, 1, 60))
        )
        rows.append((customer, "m", direction, at))
    rnd.shuffle(rows)  # ids not in time order, as late webhooks leave them
    async with conn.cursor() as cur:
        await cur.executemany(tables.query(INSERT), rows)
    return ids


async def _oracle(conn, targets, start: date, end: date) -> tuple[float | None, int]:
    lo, hi = reports.period(start, end)
    seconds: list[float] = []
    for t in targets:
        cur = await conn.execute(t.query(LOOKUP), {"start": lo, "end": hi})
        seconds += [float(r["seconds"]) for r in await cur.fetchall()]
    cur = await conn.execute(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s) AS m FROM unnest(%s::float8[]) s",
        (seconds,),
    )
    median = (await cur.fetchone())["m"]
    return median, len(seconds)


PERIODS = [
    (DAY0, TODAY),  # everything: settled and live days
    (DAY0 + timedelta(days=3), DAY0 + timedelta(days=9)),  # settled only, runs open at both ends
    (DAY0 + timedelta(days=12), TODAY - timedelta(days=3)),  # across the boundary
    (TODAY - timedelta(days=6), TODAY),  # the last 7 days: live only
    (DAY0 + timedelta(days=7), DAY0 + timedelta(days=7)),  # one day
    (TODAY - timedelta(days=2), TODAY + timedelta(days=20)),  # reaches past the data
    (DAY0 - timedelta(days=30), DAY0 - timedelta(days=1)),  # before the data
]


async def _check(conn, targets, label: str) -> None:
    for start, end in PERIODS:
        for chosen in (targets[:1], targets):
            got = await reports.report(conn, targets=chosen, start=start, end=end)
            median, n = await _oracle(conn, chosen, start, end)
            assert (got["response_median_seconds"], got["responses"]) == (median, n), (
                label,
                start,
                end,
                len(chosen),
            )


async def _figures(conn, targets) -> list[dict]:
    return [await reports.report(conn, targets=targets, start=s, end=e) for s, e in PERIODS]


async def test_live_and_rolled_up_figures_match_the_lookup(conn):
    rnd = random.Random(7)
    targets = [await new_agent(conn), await new_agent(conn)]
    customers = {}
    for t in targets:
        customers[t.agent_id] = await _fill(conn, t, rnd, customers=12, messages=700)
    assert (await _oracle(conn, targets, DAY0, TODAY))[1] > 100
    await _check(conn, targets, "live")
    live = await _figures(conn, targets)

    assert await rollup.refresh_all(conn) == 2
    cur = await conn.execute(
        "SELECT agent_id, filled_until, open_runs FROM report_agents ORDER BY agent_id"
    )
    until = rollup.settled_until(TODAY)
    assert [(r["filled_until"], r["open_runs"]) for r in await cur.fetchall()] == [
        (until, True)
    ] * 2
    assert (await (await conn.execute("SELECT count(*) AS n FROM report_stale_days")).fetchone())[
        "n"
    ] == 0
    await _check(conn, targets, "rollup")
    assert await _figures(conn, targets) == live  # the daily counts too
    assert await rollup.refresh_all(conn) == 0  # nothing left to do

    # A late message in a settled day (an import): the report counts from that day live until
    # the job fills it again, and is right before and after.
    t = targets[0]
    late = _midnight(DAY0 + timedelta(days=5)) + timedelta(hours=3, seconds=1)
    for direction, at in (("outbound", late), ("inbound", late - timedelta(hours=30))):
        await conn.execute(t.query(INSERT), (customers[t.agent_id][1], "late", direction, at))
    cover = (await rollup.coverage(conn, [t.agent_id]))[t.agent_id]
    assert cover == rollup.Coverage(DAY0 + timedelta(days=3), False)
    await _check(conn, targets, "marked")
    marked = await _figures(conn, targets)
    assert (
        marked != live
        and marked[0]["totals"]["messages_in"] == live[0]["totals"]["messages_in"] + 1
    )
    assert await rollup.refresh_all(conn) == 1
    assert (await rollup.coverage(conn, [t.agent_id]))[t.agent_id] == rollup.Coverage(until, True)
    await _check(conn, targets, "filled again")
    assert await _figures(conn, targets) == marked

    # An erased customer: its settled days are marked and filled again.
    await conn.execute(
        t.query("DELETE FROM {messages} WHERE customer_id = %s"), (customers[t.agent_id][2],)
    )
    await _check(conn, targets, "erased")
    assert await rollup.refresh_all(conn) == 1
    await _check(conn, targets, "erased, filled again")


async def test_the_fill_is_bounded_per_transaction_and_skips_a_locked_agent(conn, db_url):
    import psycopg

    t = await new_agent(conn)
    cid = await add_customer(conn, t, "Old", phone="+4915100000066")
    start = TODAY - timedelta(days=400)
    for k in range(0, 400, 50):
        await conn.execute(
            t.query(INSERT), (cid, "x", "inbound", _midnight(start + timedelta(days=k)))
        )
    assert await rollup.refresh(conn, t) is True  # CHUNK_DAYS at a time: more left
    cur = await conn.execute(
        "SELECT filled_until FROM report_agents WHERE agent_id = %s", (t.agent_id,)
    )
    assert (await cur.fetchone())["filled_until"] == start + timedelta(days=rollup.CHUNK_DAYS)
    other = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
    async with other, other.transaction():  # a writer of an old row holds the agent's shared lock
        await other.execute(t.query(INSERT), (cid, "y", "inbound", _midnight(start)))
        assert await rollup.refresh(conn, t) is None
    while await rollup.refresh(conn, t):
        pass
    got = await reports.report(conn, targets=[t], start=start, end=start + timedelta(days=365))
    assert got["totals"]["messages_in"] == 9


async def test_same_second_reply_and_a_run_open_across_days(conn):
    t = await new_agent(conn)
    cid = await add_customer(conn, t, "Tie", phone="+4915100000077")
    base = datetime(2026, 3, 1, 10, tzinfo=UTC)
    rows = [
        ("outbound", base + timedelta(seconds=5)),
        ("inbound", base + timedelta(seconds=5)),  # reply 0 s (the outbound message just before)
        ("outbound", base + timedelta(hours=1)),  # answers no run: the run above was answered
        ("inbound", base + timedelta(days=1)),  # a run started on 2 March ...
        ("inbound", base + timedelta(days=2)),
        ("outbound", base + timedelta(days=3)),  # ... answered on 4 March, after 2 days
    ]
    for direction, at in rows:
        await conn.execute(t.query(INSERT), (cid, "x", direction, at))
    for mode in ("live", "rollup"):
        if mode == "rollup":
            await rollup.refresh_all(conn)
        day0 = await reports.report(conn, targets=[t], start=date(2026, 3, 1), end=date(2026, 3, 1))
        assert (day0["response_median_seconds"], day0["responses"]) == (0.0, 1), mode
        middle = await reports.report(
            conn, targets=[t], start=date(2026, 3, 2), end=date(2026, 3, 3)
        )
        assert (middle["response_median_seconds"], middle["responses"]) == (None, 0), mode
        day3 = await reports.report(conn, targets=[t], start=date(2026, 3, 4), end=date(2026, 3, 4))
        assert (day3["response_median_seconds"], day3["responses"]) == (172800.0, 1), mode
        both = await reports.report(conn, targets=[t], start=date(2026, 3, 1), end=date(2026, 3, 4))
        assert (both["response_median_seconds"], both["responses"]) == (86400.0, 2), mode
        assert both["totals"] == {
            "messages_in": 3,
            "messages_out": 3,
            "new_customers": 0,
            "orders": 0,
        }


@pytest.mark.parametrize("age_days", [3, 12])
async def test_only_writes_older_than_a_week_mark_days(conn, age_days):
    t = await new_agent(conn)
    cid = await add_customer(conn, t, "Late", phone="+4915100000088")
    at = datetime.now(UTC) - timedelta(days=age_days)
    await conn.execute(t.query(INSERT), (cid, "x", "inbound", at))
    cur = await conn.execute("SELECT day FROM report_stale_days WHERE agent_id = %s", (t.agent_id,))
    assert [r["day"] for r in await cur.fetchall()] == ([at.date()] if age_days > 7 else [])


async def test_old_customers_and_moved_messages_mark_their_days(conn):
    t = await new_agent(conn)
    now = datetime.now(UTC)
    cur = await conn.execute(
        t.query(
            "INSERT INTO {customers} (name, phone, created_at) VALUES ('Imported', %s, %s) RETURNING id"
        ),
        ("+4915100000099", now - timedelta(days=30)),
    )
    cid = (await cur.fetchone())["id"]
    cur = await conn.execute(
        t.query(INSERT + " RETURNING id"), (cid, "x", "inbound", now - timedelta(days=2))
    )
    mid = (await cur.fetchone())["id"]
    await conn.execute(t.query("UPDATE {messages} SET status = 'read' WHERE id = %s"), (mid,))
    await conn.execute(
        t.query('UPDATE {messages} SET "timestamp" = %s WHERE id = %s'),
        (now - timedelta(days=20), mid),
    )
    cur = await conn.execute(
        "SELECT day FROM report_stale_days WHERE agent_id = %s ORDER BY day", (t.agent_id,)
    )
    assert [r["day"] for r in await cur.fetchall()] == [
        (now - timedelta(days=30)).date(),
        (now - timedelta(days=20)).date(),
    ]
