"""The dashboard of all agents, read from shared tables only (never an agent's own tables).

Per agent: its settled days from report_days (before the day its recent count starts), its later
days from report_recent_days, its orders from report_order_days (wacrm.reports.recent keeps both
every minute). So the figures are as of each agent's last count (the page says when), and a
request costs the same with 10 agents or 10,000: it reads a few small tables by day.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus

from wacrm.agents.tables import AgentTables
from wacrm.reports.service import blank, period, sort_orders

_PERIOD = "day >= %(first)s AND day <= %(last)s"
# Each agent's rows: report_days before its recent_from (its filled_until when no recent count
# exists yet), report_recent_days from it on (those rows start there by construction).
_ROWS = f"""
SELECT d.day, d.messages_in, d.messages_out, d.new_customers, d.response_seconds
FROM report_days d JOIN report_agents r ON r.agent_id = d.agent_id
WHERE d.{_PERIOD} AND d.day < coalesce(r.recent_from, r.filled_until)
UNION ALL
SELECT day, messages_in, messages_out, new_customers, response_seconds
FROM report_recent_days WHERE {_PERIOD}"""
_DAYS = f"""
SELECT day, sum(messages_in) AS n_in, sum(messages_out) AS n_out, sum(new_customers) AS n_new
FROM ({_ROWS}) x GROUP BY day"""
_MEDIAN = f"""
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s) AS median, count(*) AS n
FROM ({_ROWS}) x, unnest(x.response_seconds) AS s"""
_ORDERS = f"""
SELECT status, currency, sum(orders) AS count, sum(total) AS total
FROM report_order_days WHERE {_PERIOD} GROUP BY status, currency"""
_AS_OF = """
SELECT count(*) AS agents, count(r.counted_at) AS counted, min(r.counted_at) AS oldest,
  max(r.counted_at) AS newest
FROM agents a LEFT JOIN report_agents r ON r.agent_id = a.id"""


async def few_agents(conn: AsyncConnection[Any], most: int) -> list[AgentTables] | None:
    """Every agent's tables when there are at most `most` agents (their days can then be counted
    live in a viewer's time zone, as one workspace's are), else None (the shared rollup, whose
    days are UTC days)."""
    cur = await conn.execute(
        "SELECT id, agent_prefix FROM agents ORDER BY id LIMIT %s", (most + 1,)
    )
    rows = await cur.fetchall()
    if len(rows) > most:
        return None
    return [AgentTables(r["id"], r["agent_prefix"]) for r in rows]


async def report(conn: AsyncConnection[Any], *, start: date, end: date) -> dict[str, Any]:
    """The figures of reports.service.report summed over every agent, as of each agent's last
    count; `as_of`: agents, how many are counted, the oldest and newest count's time."""
    period(start, end)  # ReportError for a reversed or too long period
    days, out = blank(start, end)
    index = {d: i for i, d in enumerate(days)}
    params = {"first": start, "last": end}
    fresh = conn.info.transaction_status == TransactionStatus.IDLE
    async with conn.transaction():
        if fresh:  # one snapshot: a count committing between two statements changes none
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        await conn.execute("SELECT set_config('jit', 'off', true)")
        cur = await conn.execute(_DAYS, params)
        for r in await cur.fetchall():
            i = index[r["day"]]
            out["messages_in"][i] = int(r["n_in"])
            out["messages_out"][i] = int(r["n_out"])
            out["new_customers"][i] = int(r["n_new"])
        cur = await conn.execute(_MEDIAN, params)
        row = await cur.fetchone() or {}
        out["response_median_seconds"] = (
            float(row["median"]) if row.get("median") is not None else None
        )
        out["responses"] = int(row.get("n") or 0)
        cur = await conn.execute(_ORDERS, params)
        out["orders"] = sort_orders(
            {
                (r["status"], r["currency"]): {
                    "count": int(r["count"]),
                    "total": Decimal(r["total"]),
                }
                for r in await cur.fetchall()
            }
        )
        cur = await conn.execute(_AS_OF)
        as_of: dict[str, Any] = dict(await cur.fetchone() or {})
    out["as_of"] = as_of
    out["totals"] = {
        "messages_in": sum(out["messages_in"]),
        "messages_out": sum(out["messages_out"]),
        "new_customers": sum(out["new_customers"]),
        "orders": sum(o["count"] for o in out["orders"]),
    }
    return out
