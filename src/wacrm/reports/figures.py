"""The dashboard's additive figures of whole days (UTC, or a viewer's zone), counted from the agents' tables.

Per day: messages in and out, new customers (by created_at), and the response seconds of the runs
answered that day. A run starts at an inbound message that follows an outbound one, or at a
customer's first message ever (over the whole history, not only the days counted); its reply is
the earliest outbound message at or after its start (so an outbound message with the same
timestamp just before the start answers it in 0 s). A run belongs to the day of its reply, so a
day's figures never change when later days get messages: that is what lets wacrm.reports.rollup
keep settled days.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection, sql

from wacrm.agents.tables import AgentTables

# One agent's rows for the days [lo, hi): per day the counts, and one row per answered run.
# The window's messages are sorted once by (customer, "timestamp", id) and cut after every
# outbound message: a group is a run of inbound messages and the outbound message that ends it
# (run 0: the messages before the customer's first outbound one in the window). A group's first
# inbound message starts a run, answered by the group's outbound message, or in 0 s when the
# message just before it is outbound with the same timestamp. Run 0 may have started before the
# window: {before} gives, per customer answered in run 0, whether the message just before the
# window is inbound (open) and the start of the run it left open (NULL: answered in 0 s already).
_AGENT_DAYS = """
SELECT day, sum(n_in) AS n_in, sum(n_out) AS n_out, sum(n_new) AS n_new, NULL::float8 AS seconds FROM (
  SELECT @bucket("timestamp")@ AS day, count(*) FILTER (WHERE direction = 'inbound') AS n_in,
    count(*) FILTER (WHERE direction <> 'inbound') AS n_out, 0 AS n_new
  FROM {messages} WHERE "timestamp" >= %(lo)s AND "timestamp" < %(hi)s GROUP BY 1
  UNION ALL
  SELECT @bucket(created_at)@, 0, 0, count(*)
  FROM {customers} WHERE created_at >= %(lo)s AND created_at < %(hi)s GROUP BY 1) c
GROUP BY day
UNION ALL
SELECT @bucket(a.at)@, 0, 0, 0, a.seconds FROM (
  SELECT CASE WHEN x.same THEN x.first_in ELSE x.reply END AS at,
    CASE WHEN x.same THEN 0::float8
      ELSE extract(epoch FROM x.reply - CASE WHEN b.open THEN b.start ELSE x.first_in END)::float8
    END AS seconds
  FROM (
    SELECT customer_id, run, min(ts) FILTER (WHERE inbound) AS first_in,
      min(ts) FILTER (WHERE NOT inbound) AS reply, coalesce(bool_or(inbound AND prev_out = ts), false) AS same
    FROM (
      SELECT customer_id, ts, inbound, count(out_at) OVER w - (NOT inbound)::int AS run,
        lag(out_at) OVER w AS prev_out
      FROM (SELECT customer_id, id, "timestamp" AS ts, direction = 'inbound' AS inbound,
              CASE WHEN direction <> 'inbound' THEN "timestamp" END AS out_at
            FROM {messages} WHERE "timestamp" >= %(lo)s AND "timestamp" < %(hi)s) r
      WINDOW w AS (PARTITION BY customer_id ORDER BY ts, id ROWS UNBOUNDED PRECEDING)) m
    GROUP BY customer_id, run) x
  {before}
  WHERE (x.same OR x.reply IS NOT NULL)
    AND CASE WHEN b.open THEN b.start ELSE x.first_in END IS NOT NULL) a
"""
# A row's day in the zone asked for, or its UTC quarter hour (wacrm.reports.quarters).
_BY_DAY = "({column} AT TIME ZONE %(zone)s)::date"
_BY_QUARTER = "date_bin('15 minutes', {column}, TIMESTAMPTZ '2000-01-01 00:00+00')"
QUARTER = timedelta(minutes=15)


def _grouped(template: str, by: str) -> str:
    for column in ('"timestamp"', "created_at", "a.at"):
        template = template.replace(f"@bucket({column})@", by.format(column=column))
    return template


# Three index probes for customer x.customer_id: the message just before %(lo)s; when it is
# inbound, the customer's last outbound message before %(lo)s and the message just after that one
# (the run's start; no start when both have the same timestamp: the run was answered in 0 s).
_PROBES = """
    SELECT l.open, CASE WHEN s.ts <> o.ts OR o.ts IS NULL THEN s.ts END AS start
    FROM (SELECT p.direction = 'inbound' AS open FROM {messages} p
          WHERE p.customer_id = x.customer_id AND p."timestamp" < %(lo)s /*only*/
          ORDER BY p."timestamp" DESC, p.id DESC LIMIT 1) l
    LEFT JOIN LATERAL (
      SELECT o."timestamp" AS ts, o.id FROM {messages} o
      WHERE l.open AND o.customer_id = x.customer_id AND o."timestamp" < %(lo)s
        AND o.direction <> 'inbound'
      ORDER BY o."timestamp" DESC, o.id DESC LIMIT 1) o ON l.open
    LEFT JOIN LATERAL (
      SELECT s."timestamp" AS ts FROM {messages} s
      WHERE l.open AND s.customer_id = x.customer_id AND s."timestamp" < %(lo)s
        AND s."timestamp" >= coalesce(o.ts, '-infinity')
        AND (o.ts IS NULL OR (s."timestamp", s.id) > (o.ts, o.id))
      ORDER BY s."timestamp", s.id LIMIT 1) s ON l.open
"""
# The probes run only for run 0 of a customer answered in the window: a condition on the outer
# row alone inside the first probe becomes a one-time filter (no index scan for other groups).
_BEFORE_PROBED = (
    "LEFT JOIN LATERAL ("
    + _PROBES.replace("/*only*/", "AND x.run = 0 AND x.reply IS NOT NULL")
    + ") b ON true"
)
# The open runs the rollup keeps at the agent's filled_until (lo must be that day).
_BEFORE_KEPT = (
    "LEFT JOIN (SELECT customer_id, true AS open, start FROM report_open_runs"
    " WHERE agent_id = {agent}) b ON b.customer_id = x.customer_id AND x.run = 0"
)
# Every customer's run left open at %(lo)s (for report_open_runs).
OPEN_RUNS = (
    "SELECT x.customer_id, b.start FROM (SELECT id AS customer_id FROM {customers}) x"
    " CROSS JOIN LATERAL (" + _PROBES.replace("/*only*/", "") + ") b WHERE b.open"
)


@dataclass
class DayFigures:
    messages_in: int = 0
    messages_out: int = 0
    new_customers: int = 0
    response_seconds: list[float] = field(default_factory=list)


def instant(day: date, zone: str = "UTC") -> datetime:
    """The midnight that starts `day` in `zone` (UTC unless a viewer's zone is asked for)."""
    return datetime.combine(day, time(), UTC if zone == "UTC" else ZoneInfo(zone))


def _agent_days(tables: AgentTables, kept: bool, by: str = _BY_DAY) -> sql.Composed:
    before = (
        sql.SQL(_BEFORE_KEPT).format(agent=sql.Literal(tables.agent_id))
        if kept
        else tables.query(_BEFORE_PROBED)
    )
    return tables.query(_grouped(_AGENT_DAYS, by), before=before)


async def count_days(
    conn: AsyncConnection[Any],
    *,
    targets: list[AgentTables],
    lo: date,
    hi: date,
    kept_open_runs: bool = False,
    zone: str = "UTC",
) -> dict[date, DayFigures]:
    """The figures of the days [lo, hi) summed over the agents (days without any are left out).

    With `kept_open_runs`, the runs open at `lo` come from report_open_runs (lo must be every
    target's filled_until, its open runs kept), otherwise from index probes."""
    return await _count(conn, targets, lo, hi, kept_open_runs, zone, _BY_DAY)


async def count_quarters(
    conn: AsyncConnection[Any],
    *,
    targets: list[AgentTables],
    lo: date,
    hi: date,
    kept_open_runs: bool = False,
) -> dict[datetime, DayFigures]:
    """The figures of the UTC days [lo, hi) per quarter hour (its start), as count_days."""
    return await _count(conn, targets, lo, hi, kept_open_runs, "UTC", _BY_QUARTER)


async def _count(
    conn: AsyncConnection[Any],
    targets: list[AgentTables],
    lo: date,
    hi: date,
    kept_open_runs: bool,
    zone: str,
    by: str,
) -> dict[Any, DayFigures]:
    out: dict[Any, DayFigures] = defaultdict(DayFigures)
    if not targets or lo >= hi:
        return out
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("(") + _agent_days(t, kept_open_runs, by) + sql.SQL(")") for t in targets
    )
    params = {"lo": instant(lo, zone), "hi": instant(hi, zone), "zone": zone}
    cur = await conn.execute(query, params)
    for r in await cur.fetchall():
        figures = out[r["day"]]
        if r["seconds"] is None:
            figures.messages_in += int(r["n_in"])
            figures.messages_out += int(r["n_out"])
            figures.new_customers += int(r["n_new"])
        else:
            figures.response_seconds.append(float(r["seconds"]))
    return out
