"""The dashboard's figures over a period, for one agent or several (their tables via AgentTables).

Every query is bounded by the period and reads the per-agent indexes of step 31 (messages by
"timestamp", customers by created_at) and of the orders (created_at); several agents are read in
one statement as a UNION ALL of their tables, composed with psycopg.sql identifiers only.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection, sql

from wacrm.agents.tables import AgentTables
from wacrm.orders import queries as order_queries
from wacrm.orders.workflow import STATUSES

MAX_DAYS = 366

_MESSAGES = (
    "SELECT (\"timestamp\" AT TIME ZONE 'UTC')::date AS day, direction, count(*) AS n FROM {messages}"
    ' WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s GROUP BY 1, 2'
)
_CUSTOMERS = (
    "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n FROM {customers}"
    " WHERE created_at >= %(start)s AND created_at < %(end)s GROUP BY 1"
)
# Response times in one pass over the period's messages (no lookup per message run). Each customer's
# messages in (timestamp, id) order are cut after every outbound message: a group is a run of
# inbound messages and the outbound message that ends it. The run's first message is the start, the
# reply is the earliest outbound message at or after it: the group's outbound message, or the start
# itself when the message just before it is outbound with the same timestamp. A run still open at
# the period's end looks for its reply after the period, only when the agent has such messages.
_RESPONSES = (
    "SELECT extract(epoch FROM CASE WHEN g.same THEN g.start WHEN g.reply IS NOT NULL THEN g.reply"
    '  WHEN (SELECT EXISTS (SELECT 1 FROM {messages} WHERE "timestamp" >= %(end)s)) THEN (SELECT min(o."timestamp") FROM {messages} o WHERE o.customer_id = g.customer_id'
    "   AND o.direction = 'outbound' AND o.\"timestamp\" >= %(end)s) END - g.start) AS seconds FROM ("
    " SELECT customer_id, min(ts) FILTER (WHERE inbound) AS start, min(ts) FILTER (WHERE NOT inbound) AS reply,"
    "  coalesce(bool_or(inbound AND prev_out = ts), false) AS same FROM ("
    "  SELECT customer_id, \"timestamp\" AS ts, direction = 'inbound' AS inbound,"
    "   count(*) FILTER (WHERE direction = 'outbound') OVER w - (direction = 'outbound')::int AS run,"
    "   CASE WHEN lag(direction) OVER w = 'outbound' THEN lag(\"timestamp\") OVER w END AS prev_out"
    '  FROM {messages} WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s'
    '  WINDOW w AS (PARTITION BY customer_id ORDER BY "timestamp", id ROWS UNBOUNDED PRECEDING)) m'
    " GROUP BY customer_id, run) g WHERE g.start IS NOT NULL"
)
# Report queries are cheap to run but look costly to the planner: no JIT (it compiled for ~1.3 s),
# and sort memory for a 90-day window of messages.
_SETTINGS = "SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)"


class ReportError(ValueError):
    """A period the dashboard cannot show (the message says why)."""

    status = 400


def period(start: date, end: date) -> tuple[datetime, datetime]:
    """Inclusive UTC days as a half-open instant range; ReportError if reversed or too long."""
    if start > end:
        raise ReportError("the start date must not be after the end date")
    if (end - start).days + 1 > MAX_DAYS:
        raise ReportError(f"choose a period of at most {MAX_DAYS} days")
    return datetime.combine(start, time(), UTC), datetime.combine(
        end + timedelta(days=1), time(), UTC
    )


def _union(targets: list[AgentTables], template: str) -> sql.Composed:
    return sql.SQL(" UNION ALL ").join(
        sql.SQL("(") + t.query(template) + sql.SQL(")") for t in targets
    )


async def _rows(
    conn: AsyncConnection[Any], query: sql.Composed, params: dict[str, Any]
) -> list[dict[str, Any]]:
    cur = await conn.execute(query, params)
    return await cur.fetchall()


async def report(
    conn: AsyncConnection[Any], *, targets: list[AgentTables], start: date, end: date
) -> dict[str, Any]:
    """Per day: messages in/out and new customers; the median response time (seconds) and how many
    replies it is over; orders and revenue per status and currency; totals of each."""
    lo, hi = period(start, end)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    out: dict[str, Any] = {
        "start": start,
        "end": end,
        "days": [d.isoformat() for d in days],
        "messages_in": [0] * len(days),
        "messages_out": [0] * len(days),
        "new_customers": [0] * len(days),
        "response_median_seconds": None,
        "responses": 0,
        "orders": [],
        "totals": {"messages_in": 0, "messages_out": 0, "new_customers": 0, "orders": 0},
    }
    if not targets:
        return out
    async with conn.transaction():  # one snapshot for all figures; the settings end with it
        await conn.execute(_SETTINGS)
        await _fill(conn, out, targets=targets, days=days, lo=lo, hi=hi)
    return out


async def _fill(
    conn: AsyncConnection[Any],
    out: dict[str, Any],
    *,
    targets: list[AgentTables],
    days: list[date],
    lo: datetime,
    hi: datetime,
) -> None:
    index = {d: i for i, d in enumerate(days)}
    params = {"start": lo, "end": hi}
    messages = sql.SQL("SELECT day, direction, sum(n) AS n FROM ({u}) s GROUP BY 1, 2").format(
        u=_union(targets, _MESSAGES)
    )
    for r in await _rows(conn, messages, params):
        key = "messages_in" if r["direction"] == "inbound" else "messages_out"
        out[key][index[r["day"]]] = int(r["n"])
    customers = sql.SQL("SELECT day, sum(n) AS n FROM ({u}) s GROUP BY 1").format(
        u=_union(targets, _CUSTOMERS)
    )
    for r in await _rows(conn, customers, params):
        out["new_customers"][index[r["day"]]] = int(r["n"])
    median = sql.SQL(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS median, count(*) AS n"
        " FROM ({u}) s WHERE seconds IS NOT NULL"
    ).format(u=_union(targets, _RESPONSES))
    row = (await _rows(conn, median, params))[0]
    out["response_median_seconds"] = float(row["median"]) if row["median"] is not None else None
    out["responses"] = int(row["n"])
    out["orders"] = await order_totals(conn, targets=targets, created_from=lo, created_to=hi)
    out["totals"] = {
        "messages_in": sum(out["messages_in"]),
        "messages_out": sum(out["messages_out"]),
        "new_customers": sum(out["new_customers"]),
        "orders": sum(o["count"] for o in out["orders"]),
    }


async def order_totals(
    conn: AsyncConnection[Any],
    *,
    targets: list[AgentTables],
    created_from: datetime,
    created_to: datetime,
) -> list[dict[str, Any]]:
    """Orders and revenue per status and currency summed over the agents (workflow order)."""
    summed: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"count": 0, "total": Decimal(0)}
    )
    for tables in targets:
        for r in await order_queries.status_totals(
            conn, tables=tables, created_from=created_from, created_to=created_to
        ):
            key = (r["status"], str(r["currency"]).strip())
            summed[key]["count"] += int(r["count"])
            summed[key]["total"] += Decimal(r["total"])
    rank = {s: i for i, s in enumerate(STATUSES)}
    return [
        {"status": s, "currency": c, **v}
        for (s, c), v in sorted(summed.items(), key=lambda kv: (rank.get(kv[0][0], 99), kv[0][1]))
    ]


def revenue(orders: list[dict[str, Any]]) -> dict[str, Decimal]:
    """Revenue per currency: the totals of orders that are not cancelled."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for o in orders:
        if o["status"] != "cancelled":
            out[o["currency"]] += o["total"]
    return dict(out)
