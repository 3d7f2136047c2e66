"""The quarter-hour rollup (migration 0121): each agent's figures per UTC quarter hour, and their
sums over every agent, from which the all-agents dashboard makes the days of any time zone.

Every time zone in use is a whole number of quarter hours from UTC, so a day of any zone (a DST
day too) is a run of whole quarters. wacrm.reports.rollup (settled days) and wacrm.reports.recent
(the days since) write an agent's quarters with `save`; `rebuild` then sums the UTC days whose
quarters changed (marked by triggers in report_quarters_dirty) into report_all_quarters.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

from psycopg import AsyncConnection, sql

from wacrm.agents.tables import AgentTables
from wacrm.reports.figures import DayFigures

REBUILD_LOCK = (7402, 0)  # one rebuild at a time (two would insert the same sums)
_ORDER_QUARTERS = """
INSERT INTO report_order_quarters (agent_id, bucket, status, currency, orders, total)
SELECT {agent}, date_bin('15 minutes', o.created_at, TIMESTAMPTZ '2000-01-01 00:00+00'), o.status,
  btrim(o.currency), count(*), coalesce(sum(o.total_amount), 0)
FROM {orders} o GROUP BY 2, 3, 4"""
_DIRTY = "DELETE FROM report_quarters_dirty RETURNING day"
_DAYS = "SELECT d::timestamp AT TIME ZONE 'UTC' AS lo FROM unnest(%(days)s::date[]) d"
_REBUILD = (
    f"WITH d AS ({_DAYS}) DELETE FROM report_all_quarters q USING d"
    " WHERE q.bucket >= d.lo AND q.bucket < d.lo + interval '1 day'",
    f"""WITH d AS ({_DAYS}), c AS (
  SELECT q.bucket, sum(q.messages_in) AS n_in, sum(q.messages_out) AS n_out,
    sum(q.new_customers) AS n_new, wacrm_array_cat_agg(q.response_seconds) AS rs
  FROM report_quarters q JOIN d ON q.bucket >= d.lo AND q.bucket < d.lo + interval '1 day'
  GROUP BY q.bucket)
INSERT INTO report_all_quarters (bucket, messages_in, messages_out, new_customers, response_seconds,
  responses, response_bins, response_counts)
SELECT c.bucket, c.n_in, c.n_out, c.n_new, c.rs, cardinality(c.rs),
  coalesce(h.bins, '{{}}'), coalesce(h.counts, '{{}}')
FROM c LEFT JOIN LATERAL (
  SELECT array_agg(b ORDER BY b) AS bins, array_agg(n ORDER BY b) AS counts
  FROM (SELECT wacrm_response_bin(s) AS b, count(*)::int AS n FROM unnest(c.rs) s GROUP BY 1) x
) h ON true""",
    "DELETE FROM report_all_days WHERE day = ANY(%(days)s::date[])",
    f"""WITH d AS ({_DAYS})
INSERT INTO report_all_days (day, responses, response_bins, response_counts)
SELECT day, sum(n), array_agg(b ORDER BY b), array_agg(n ORDER BY b) FROM (
  SELECT (q.bucket AT TIME ZONE 'UTC')::date AS day, u.b, sum(u.n)::int AS n
  FROM report_all_quarters q JOIN d ON q.bucket >= d.lo AND q.bucket < d.lo + interval '1 day',
    unnest(q.response_bins, q.response_counts) AS u(b, n)
  GROUP BY 1, 2) x
GROUP BY day""",
    f"WITH d AS ({_DAYS}) DELETE FROM report_all_order_quarters q USING d"
    " WHERE q.bucket >= d.lo AND q.bucket < d.lo + interval '1 day'",
    f"""WITH d AS ({_DAYS})
INSERT INTO report_all_order_quarters (bucket, status, currency, orders, total)
SELECT q.bucket, q.status, q.currency, sum(q.orders), sum(q.total)
FROM report_order_quarters q JOIN d ON q.bucket >= d.lo AND q.bucket < d.lo + interval '1 day'
GROUP BY q.bucket, q.status, q.currency""",
)


def utc_days(quarters: dict[datetime, DayFigures]) -> dict[date, DayFigures]:
    """Quarter hours summed into their UTC days (report_days' rows)."""
    out: dict[date, DayFigures] = defaultdict(DayFigures)
    for bucket, f in quarters.items():
        day = out[bucket.astimezone(UTC).date()]
        day.messages_in += f.messages_in
        day.messages_out += f.messages_out
        day.new_customers += f.new_customers
        day.response_seconds += f.response_seconds
    return out


async def save(
    conn: AsyncConnection[Any],
    agent_id: int,
    quarters: dict[datetime, DayFigures],
    *,
    lo: datetime,
    hi: datetime | None = None,
) -> None:
    """Replace an agent's quarters in [lo, hi) (hi None: to the end) by `quarters`."""
    await conn.execute(
        "DELETE FROM report_quarters WHERE agent_id = %s AND bucket >= %s"
        " AND (%s::timestamptz IS NULL OR bucket < %s)",
        (agent_id, lo, hi, hi),
    )
    if not quarters:
        return
    async with conn.cursor() as cur:
        copy = (
            "COPY report_quarters (agent_id, bucket, messages_in, messages_out, new_customers,"
            " response_seconds) FROM STDIN"
        )
        async with cur.copy(copy) as out:
            for bucket, f in sorted(quarters.items()):
                await out.write_row(
                    (
                        agent_id,
                        bucket,
                        f.messages_in,
                        f.messages_out,
                        f.new_customers,
                        sorted(f.response_seconds),
                    )
                )


async def save_orders(conn: AsyncConnection[Any], tables: AgentTables) -> None:
    """Count an agent's orders per quarter of their creation, status and currency again."""
    await conn.execute("DELETE FROM report_order_quarters WHERE agent_id = %s", (tables.agent_id,))
    await conn.execute(tables.query(_ORDER_QUARTERS, agent=sql.Literal(tables.agent_id)))


async def rebuild(conn: AsyncConnection[Any]) -> int:
    """Sum every agent's quarters of the UTC days marked dirty into the all-agents tables (one
    transaction; waits for a rebuild running elsewhere); the number of days rebuilt."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", REBUILD_LOCK)
        await conn.execute("SELECT set_config('jit', 'off', true)")
        cur = await conn.execute(_DIRTY)
        days = sorted(r["day"] for r in await cur.fetchall())
        if days:
            for statement in _REBUILD:
                await conn.execute(statement, {"days": days})
    return len(days)
