"""The one-pass response-time query gives the same figures as the per-run lookup it replaced."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from tests.conversations.factory import add_customer, new_agent
from wacrm.reports import service as reports

# The dashboard's first response-time query (one lookup per run of inbound messages): the oracle.
LOOKUP = (
    "SELECT extract(epoch FROM r.reply - f.ts) AS seconds FROM ("
    ' SELECT customer_id, "timestamp" AS ts, direction,'
    '  lag(direction) OVER (PARTITION BY customer_id ORDER BY "timestamp", id) AS prev'
    ' FROM {messages} WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s) f'
    ' CROSS JOIN LATERAL (SELECT min(o."timestamp") AS reply FROM {messages} o'
    "  WHERE o.customer_id = f.customer_id AND o.direction = 'outbound' AND o.\"timestamp\" >= f.ts) r"
    " WHERE f.direction = 'inbound' AND f.prev IS DISTINCT FROM 'inbound' AND r.reply IS NOT NULL"
)
DAY0 = date(2026, 3, 1)


async def _fill(conn, tables, rnd: random.Random, customers: int, messages: int) -> None:
    """Whole-second timestamps over 20 days (ties within a customer are common), both directions."""
    ids = [
        await add_customer(conn, tables, f"C{i}", phone=f"+49151{tables.agent_id:03d}{i:05d}")
        for i in range(customers)
    ]
    base = datetime.combine(DAY0, datetime.min.time(), UTC)
    rows = []
    for _ in range(messages):
        at = base + timedelta(
            seconds=rnd.randrange(20 * 86400) // 7200 * 7200 + rnd.choice((0, 0, 1, 60))
        )
        rows.append((rnd.choice(ids), "m", rnd.choice(("inbound", "inbound", "outbound")), at))
    rnd.shuffle(rows)  # ids not in time order, as late webhooks leave them
    async with conn.cursor() as cur:
        await cur.executemany(
            tables.query(
                'INSERT INTO {messages} (customer_id, message, direction, "timestamp") VALUES (%s, %s, %s, %s)'
            ),
            rows,
        )


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


async def test_one_pass_matches_the_lookup_on_generated_data(conn):
    rnd = random.Random(7)
    targets = [await new_agent(conn), await new_agent(conn)]
    for t in targets:
        await _fill(conn, t, rnd, customers=12, messages=600)
    periods = [
        (DAY0, DAY0 + timedelta(days=19)),  # everything
        (DAY0 + timedelta(days=3), DAY0 + timedelta(days=9)),  # runs open at both ends
        (DAY0 + timedelta(days=7), DAY0 + timedelta(days=7)),  # one day
        (DAY0 + timedelta(days=15), DAY0 + timedelta(days=40)),
    ]  # reaches past the data
    for start, end in periods:
        for chosen in (targets[:1], targets):
            got = await reports.report(conn, targets=chosen, start=start, end=end)
            median, n = await _oracle(conn, chosen, start, end)
            assert n > 0, (start, end)
            assert (got["response_median_seconds"], got["responses"]) == (median, n), (
                start,
                end,
                len(chosen),
            )


async def test_same_second_reply_and_reply_after_the_period(conn):
    t = await new_agent(conn)
    cid = await add_customer(conn, t, "Tie", phone="+4915100000077")
    base = datetime(2026, 3, 1, 10, tzinfo=UTC)
    rows = [
        ("outbound", base + timedelta(seconds=5)),
        ("inbound", base + timedelta(seconds=5)),  # reply 0 s
        ("inbound", base + timedelta(days=1)),  # alone in a 1-day period: a run answered after it
        ("outbound", base + timedelta(days=2)),
    ]
    for direction, at in rows:
        await conn.execute(
            t.query(
                "INSERT INTO {messages} (customer_id, message, direction, \"timestamp\") VALUES (%s, 'x', %s, %s)"
            ),
            (cid, direction, at),
        )
    day1 = await reports.report(conn, targets=[t], start=date(2026, 3, 2), end=date(2026, 3, 2))
    assert (day1["response_median_seconds"], day1["responses"]) == (86400.0, 1)
    day0 = await reports.report(conn, targets=[t], start=date(2026, 3, 1), end=date(2026, 3, 1))
    assert (day0["response_median_seconds"], day0["responses"]) == (0.0, 1)
    both = await reports.report(conn, targets=[t], start=date(2026, 3, 1), end=date(2026, 3, 3))
    assert (both["response_median_seconds"], both["responses"]) == (0.0, 1)  # one run: in, in, out
    assert both["totals"] == {"messages_in": 2, "messages_out": 2, "new_customers": 0, "orders": 0}
