"""The dashboard's figures over a period, for one agent or a few (their tables via AgentTables).

Messages in/out and new customers per day, and the median response time: settled days from the
daily rollup (wacrm.reports.rollup), the others counted live (wacrm.reports.figures); orders live.
A run of inbound messages starts at an inbound message after an outbound one, or at a customer's
first message ever (over the whole history), and counts in the period that holds its reply.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus

from wacrm.agents.tables import AgentTables
from wacrm.errors import AppError
from wacrm.i18n.text import Text
from wacrm.orders import queries as order_queries
from wacrm.orders.workflow import STATUSES
from wacrm.reports import figures, rollup

MAX_DAYS = 366
# report() counts its agents' live days in one snapshot, holding their tables' locks to its end:
# a few agents at most (all agents: wacrm.reports.everyone, from shared tables).
MAX_LIVE_AGENTS = 20
# The live days start at an agent's filled_until (its open runs are kept there) when the period
# starts at most this many days after it; further on, at the period's start with index probes.
KEPT_RUNS_REACH = 14
# Off: every day counted live, as before the rollup is filled (bench/dashboard.py compares both).
USE_ROLLUP = True
# Report queries are cheap to run but look costly to the planner: no JIT (compiling cost more
# than the query), and sort memory for a 90-day window of messages.
_SETTINGS = "SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)"
_ROLLED = """
FROM report_days d JOIN unnest(%(agents)s::bigint[], %(until)s::date[]) AS t(agent_id, until)
  ON t.agent_id = d.agent_id
WHERE d.day >= %(first)s AND d.day < t.until AND d.day <= %(last)s"""
_ROLLED_DAYS = (
    "SELECT d.day, sum(d.messages_in) AS n_in, sum(d.messages_out) AS n_out,"
    " sum(d.new_customers) AS n_new" + _ROLLED + " GROUP BY d.day"
)
_MEDIAN = (
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s) AS median, count(*) AS n FROM ("
    " SELECT unnest(d.response_seconds) AS s" + _ROLLED + " UNION ALL"
    " SELECT unnest(%(live)s::float8[])) x"
)


class ReportError(AppError, ValueError):
    """A period the dashboard cannot show (the message says why)."""

    status = 400


def period(start: date, end: date, zone: str = "UTC") -> tuple[datetime, datetime]:
    """Inclusive days (of `zone`) as a half-open instant range; ReportError if reversed or too long."""
    if start > end:
        raise ReportError(Text("the start date must not be after the end date"))
    if (end - start).days + 1 > MAX_DAYS:
        raise ReportError(Text("choose a period of at most {days} days", days=MAX_DAYS))
    return figures.instant(start, zone), figures.instant(end + timedelta(days=1), zone)


def blank(start: date, end: date) -> tuple[list[date], dict[str, Any]]:
    """The period's days and a report of them without any figures."""
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return days, {
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


def sort_orders(summed: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """Order totals keyed by (status, currency) as a list in workflow order."""
    rank = {s: i for i, s in enumerate(STATUSES)}
    return [
        {"status": s, "currency": c, **v}
        for (s, c), v in sorted(summed.items(), key=lambda kv: (rank.get(kv[0][0], 99), kv[0][1]))
    ]


async def report(
    conn: AsyncConnection[Any],
    *,
    targets: list[AgentTables],
    start: date,
    end: date,
    zone: str = "UTC",
) -> dict[str, Any]:
    """Per day: messages in/out and new customers; the median response time (seconds) and how many
    replies it is over; orders and revenue per status and currency; totals of each.

    Days are UTC days (served from the rollup), or the days of `zone` (a viewer's time zone),
    then counted live from the agents' tables."""
    if len(targets) > MAX_LIVE_AGENTS:
        raise ValueError(
            f"{len(targets)} agents counted live in one snapshot would hold ~15 locks each:"
            " use wacrm.reports.everyone for all agents"
        )
    lo, hi = period(start, end, zone)
    days, out = blank(start, end)
    if not targets:
        return out
    fresh = conn.info.transaction_status == TransactionStatus.IDLE
    async with conn.transaction():
        if fresh:  # one snapshot for the rollup, its marks and the live days
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        await conn.execute(_SETTINGS)
        await _fill(conn, out, targets=targets, days=days, lo=lo, hi=hi, zone=zone)
    return out


def _live_from(cover: rollup.Coverage | None, start: date) -> tuple[date, bool]:
    """Where an agent's live days start, and whether from its kept open runs (else probes)."""
    if cover is None or cover.trusted_until is None:
        return start, False
    until = cover.trusted_until
    if cover.open_runs and (start - until).days <= KEPT_RUNS_REACH:
        return until, True
    return max(start, until), False


async def _fill(
    conn: AsyncConnection[Any],
    out: dict[str, Any],
    *,
    targets: list[AgentTables],
    days: list[date],
    lo: datetime,
    hi: datetime,
    zone: str = "UTC",
) -> None:
    start, end = days[0], days[-1]
    index = {d: i for i, d in enumerate(days)}
    # The rollup keeps UTC days: another zone's days are all counted live.
    use_rollup = USE_ROLLUP and zone == "UTC"
    covers = await rollup.coverage(conn, [t.agent_id for t in targets]) if use_rollup else {}
    # Rolled days: each agent's rows in [start, min(end, trusted_until)).
    params: dict[str, Any] = {
        "agents": [t.agent_id for t in targets],
        "until": [
            (c.trusted_until if (c := covers.get(t.agent_id)) and c.trusted_until else start)
            for t in targets
        ],
        "first": start,
        "last": end,
    }
    cur = await conn.execute(_ROLLED_DAYS, params)
    for r in await cur.fetchall():
        i = index[r["day"]]
        out["messages_in"][i] += int(r["n_in"])
        out["messages_out"][i] += int(r["n_out"])
        out["new_customers"][i] += int(r["n_new"])
    # Live days: agents grouped by where theirs start (the last day is the same for all).
    groups: dict[tuple[date, bool], list[AgentTables]] = defaultdict(list)
    for t in targets:
        groups[_live_from(covers.get(t.agent_id), start)].append(t)
    live: list[float] = []
    for (first, kept), group in groups.items():
        counted = await figures.count_days(
            conn,
            targets=group,
            lo=first,
            hi=end + timedelta(days=1),
            kept_open_runs=kept,
            zone=zone,
        )
        for day, f in counted.items():
            if day < start:
                continue
            i = index[day]
            out["messages_in"][i] += f.messages_in
            out["messages_out"][i] += f.messages_out
            out["new_customers"][i] += f.new_customers
            live += f.response_seconds
    cur = await conn.execute(_MEDIAN, {**params, "live": live})
    row = await cur.fetchone()
    assert row is not None
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
    return sort_orders(summed)


def revenue(orders: list[dict[str, Any]]) -> dict[str, Decimal]:
    """Revenue per currency: the totals of orders that are not cancelled."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for o in orders:
        if o["status"] != "cancelled":
            out[o["currency"]] += o["total"]
    return dict(out)
