"""The dashboard of all agents, read from shared tables only (never an agent's own tables).

Every agent's figures summed per UTC quarter hour (report_all_quarters, report_all_order_quarters;
wacrm.reports.quarters keeps them after each rollup cycle): a day of the viewer's time zone is the
run of quarters between two of its midnights (every zone in use is a whole number of quarter hours
from UTC; DST days are 23 or 25 hours of quarters). The figures are as of each agent's last
count (the page says when), and a request reads at most 96 rows a day with 10 agents or 10,000.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus

from wacrm.agents.tables import AgentTables
from wacrm.reports.service import blank, period, sort_orders

_PERIOD = "bucket >= %(lo)s AND bucket < %(hi)s"
_QUARTERS = f"""
SELECT bucket, messages_in, messages_out, new_customers, responses
FROM report_all_quarters WHERE {_PERIOD}"""
_MEDIAN = f"""
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s) AS median, count(*) AS n
FROM report_all_quarters q, unnest(q.response_seconds) AS s WHERE {_PERIOD}"""
# The period's replies by histogram bin: whole UTC days [days_lo, days_hi) from report_all_days,
# the quarters outside them (at most two partial days) from report_all_quarters.
_BINS = f"""
SELECT b, sum(n) AS n FROM (
  SELECT u.b, u.n FROM report_all_days d, unnest(d.response_bins, d.response_counts) AS u(b, n)
  WHERE d.day >= %(days_lo)s AND d.day < %(days_hi)s
  UNION ALL
  SELECT u.b, u.n FROM report_all_quarters q, unnest(q.response_bins, q.response_counts) AS u(b, n)
  WHERE {_PERIOD} AND NOT (q.bucket >= %(whole_lo)s AND q.bucket < %(whole_hi)s)) x
GROUP BY b ORDER BY b"""
# Up to this many replies the median is exact (percentile_cont over every reply); beyond, it is
# read from the histograms (2% bins, interpolated): the page then costs the same at any volume.
EXACT_MEDIAN_MAX = 50_000
BINS_PER_LOG = 50  # wacrm_response_bin (migration 0121)
_ORDERS = f"""
SELECT status, currency, sum(orders) AS count, sum(total) AS total
FROM report_all_order_quarters WHERE {_PERIOD} GROUP BY status, currency"""
_AS_OF = """
SELECT count(*) AS agents, count(r.counted_at) AS counted, min(r.counted_at) AS oldest,
  max(r.counted_at) AS newest
FROM agents a LEFT JOIN report_agents r ON r.agent_id = a.id"""


async def few_agents(conn: AsyncConnection[Any], most: int) -> list[AgentTables] | None:
    """Every agent's tables when there are at most `most` agents (their days are then counted
    live, as one workspace's are), else None (the shared quarter-hour rollup)."""
    cur = await conn.execute(
        "SELECT id, agent_prefix FROM agents ORDER BY id LIMIT %s", (most + 1,)
    )
    rows = await cur.fetchall()
    if len(rows) > most:
        return None
    return [AgentTables(r["id"], r["agent_prefix"]) for r in rows]


async def report(
    conn: AsyncConnection[Any], *, start: date, end: date, zone: str = "UTC"
) -> dict[str, Any]:
    """The figures of reports.service.report summed over every agent, days of `zone`, as of each
    agent's last count; `as_of`: agents, how many are counted, the oldest and newest count's time."""
    lo, hi = period(start, end, zone)  # ReportError for a reversed or too long period
    days, out = blank(start, end)
    index = {d: i for i, d in enumerate(days)}
    tz = UTC if zone == "UTC" else ZoneInfo(zone)
    params = {"lo": lo, "hi": hi}
    fresh = conn.info.transaction_status == TransactionStatus.IDLE
    async with conn.transaction():
        if fresh:  # one snapshot: a rebuild committing between two statements changes none
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        await conn.execute("SELECT set_config('jit', 'off', true)")
        cur = await conn.execute(_QUARTERS, params)
        replies = 0
        for r in await cur.fetchall():
            i = index[r["bucket"].astimezone(tz).date()]
            out["messages_in"][i] += int(r["messages_in"])
            out["messages_out"][i] += int(r["messages_out"])
            out["new_customers"][i] += int(r["new_customers"])
            replies += int(r["responses"])
        out["responses"] = replies
        out["response_median_seconds"] = await _median(conn, lo, hi, replies)
        cur = await conn.execute(_ORDERS, params)
        summed: dict[tuple[str, str], dict[str, Any]] = {}
        for r in await cur.fetchall():
            summed[(r["status"], r["currency"])] = {
                "count": int(r["count"]),
                "total": Decimal(r["total"]),
            }
        out["orders"] = sort_orders(summed)
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


async def _median(conn: AsyncConnection[Any], lo: datetime, hi: datetime, n: int) -> float | None:
    """The median reply time of [lo, hi): exact up to EXACT_MEDIAN_MAX replies, else from the
    histograms (within 2%)."""
    if n == 0:
        return None
    if n <= EXACT_MEDIAN_MAX:
        cur = await conn.execute(_MEDIAN, {"lo": lo, "hi": hi})
        row = await cur.fetchone() or {}
        return float(row["median"]) if row.get("median") is not None else None
    start = lo.astimezone(UTC)
    days_lo = start.date() + timedelta(days=1 if start.time() != time() else 0)  # whole days
    days_hi = max(hi.astimezone(UTC).date(), days_lo)
    whole = (datetime.combine(days_lo, time(), UTC), datetime.combine(days_hi, time(), UTC))
    cur = await conn.execute(
        _BINS,
        {"lo": lo, "hi": hi, "days_lo": days_lo, "days_hi": days_hi}
        | {"whole_lo": whole[0], "whole_hi": whole[1]},
    )
    return histogram_median([(int(r["b"]), int(r["n"])) for r in await cur.fetchall()])


def histogram_median(bins: list[tuple[int, int]]) -> float | None:
    """percentile_cont(0.5) of values known by bin (sorted (bin, count)); a value of rank k is
    placed evenly inside its bin."""
    total = sum(n for _, n in bins)
    if not total:
        return None
    rank = (total - 1) / 2  # the 0-based rank of the median, as percentile_cont
    below, above = _at_rank(bins, math.floor(rank)), _at_rank(bins, math.ceil(rank))
    return below + (above - below) * (rank - math.floor(rank))


def _at_rank(bins: list[tuple[int, int]], k: int) -> float:
    seen = 0
    for b, n in bins:
        if seen + n > k:
            low, high = math.expm1(b / BINS_PER_LOG), math.expm1((b + 1) / BINS_PER_LOG)
            return low + (high - low) * (k - seen + 0.5) / n
        seen += n
    return math.expm1((bins[-1][0] + 1) / BINS_PER_LOG)
