"""The dashboard's daily rollup: settled days counted once per agent (tables of migration 0040).

A day is settled when it ends before today - SETTLED_AFTER_DAYS (UTC): Meta re-delivers webhooks
for 7 days, so older days get messages only from imports and late writes, which the triggers of
per-agent step 40 mark in report_stale_days. `refresh` (the periodic job of wacrm.reports.tasks)
fills an agent's days up to the settled boundary, with report_open_runs at that boundary, and
starts again from an agent's earliest marked day. The report trusts an agent's rows only before
its filled_until and its earliest mark, and counts every later day live.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql

from wacrm.agents.tables import AgentTables
from wacrm.reports import quarters
from wacrm.reports.figures import OPEN_RUNS, count_quarters, instant

log = logging.getLogger(__name__)

SETTLED_AFTER_DAYS = 8
CHUNK_DAYS = 92  # days filled per transaction (short transactions on a busy agent)
LOCK_CLASS = 7401  # lock (7401, hashint8(agent_id)): shared by the triggers, exclusive here


def settled_until(today: date) -> date:
    """The first day that is not settled yet."""
    return today - timedelta(days=SETTLED_AFTER_DAYS)


async def today_utc(conn: AsyncConnection[Any]) -> date:
    """The database's current UTC day (the clock the triggers use)."""
    cur = await conn.execute("SELECT (now() AT TIME ZONE 'UTC')::date AS today")
    row = await cur.fetchone()
    assert row is not None
    day: date = row["today"]
    return day


@dataclass(frozen=True)
class Coverage:
    """What the report may read from an agent's rollup: its rows before `trusted_until`, and
    report_open_runs at that day when `open_runs` (None: nothing filled)."""

    trusted_until: date | None
    open_runs: bool


async def coverage(conn: AsyncConnection[Any], agent_ids: list[int]) -> dict[int, Coverage]:
    """Each agent's trusted rollup: before its filled_until and before its earliest marked day."""
    cur = await conn.execute(
        """SELECT a.id, s.filled_until, s.open_runs,
                  (SELECT min(m.day) FROM report_stale_days m WHERE m.agent_id = a.id) AS marked
           FROM unnest(%s::bigint[]) AS a(id) LEFT JOIN report_agents s ON s.agent_id = a.id""",
        (agent_ids,),
    )
    out = {}
    for r in await cur.fetchall():
        until, marked = r["filled_until"], r["marked"]
        if until is not None and marked is not None and marked < until:
            out[r["id"]] = Coverage(marked, False)
        else:
            out[r["id"]] = Coverage(until, bool(r["open_runs"]) and until is not None)
    return out


async def _earliest_day(conn: AsyncConnection[Any], tables: AgentTables) -> date | None:
    cur = await conn.execute(
        tables.query(
            'SELECT (least((SELECT min("timestamp") FROM {messages}),'
            " (SELECT min(created_at) FROM {customers})) AT TIME ZONE 'UTC')::date AS day"
        )
    )
    row = await cur.fetchone()
    return row["day"] if row else None


async def _state(
    conn: AsyncConnection[Any], tables: AgentTables, until: date
) -> tuple[date, bool] | None:
    """Under the agent's lock: its (filled_until, open_runs), after dropping what marks made stale."""
    agent = tables.agent_id
    cur = await conn.execute(
        "SELECT filled_until, open_runs FROM report_agents WHERE agent_id = %s", (agent,)
    )
    row = await cur.fetchone()
    cur = await conn.execute(
        "DELETE FROM report_stale_days WHERE agent_id = %s RETURNING day", (agent,)
    )
    marked = min((r["day"] for r in await cur.fetchall()), default=None)
    if row is None:
        await conn.execute("DELETE FROM report_days WHERE agent_id = %s", (agent,))
        await conn.execute("DELETE FROM report_quarters WHERE agent_id = %s", (agent,))
        first = await _earliest_day(conn, tables)
        return (min(first, until) if first else until), False
    filled, open_runs = row["filled_until"], row["open_runs"]
    if marked is not None and marked < filled:
        log.info("agent %s: rollup from %s is stale (written late), filled again", agent, marked)
        await conn.execute(
            "DELETE FROM report_days WHERE agent_id = %s AND day >= %s", (agent, marked)
        )
        return marked, False
    return filled, open_runs


async def _save_days(
    conn: AsyncConnection[Any], tables: AgentTables, lo: date, hi: date, open_runs: bool
) -> None:
    by_quarter = await count_quarters(
        conn, targets=[tables], lo=lo, hi=hi, kept_open_runs=open_runs
    )
    await quarters.save(conn, tables.agent_id, by_quarter, lo=instant(lo), hi=instant(hi))
    figures = quarters.utc_days(by_quarter)
    rows = [
        (
            tables.agent_id,
            day,
            f.messages_in,
            f.messages_out,
            f.new_customers,
            sorted(f.response_seconds),
        )
        for day, f in sorted(figures.items())
    ]
    if rows:
        async with conn.cursor() as cur:
            await cur.executemany(
                """INSERT INTO report_days (agent_id, day, messages_in, messages_out, new_customers,
                     response_seconds) VALUES (%s, %s, %s, %s, %s, %s::float8[])
                   ON CONFLICT (agent_id, day) DO UPDATE SET messages_in = EXCLUDED.messages_in,
                     messages_out = EXCLUDED.messages_out, new_customers = EXCLUDED.new_customers,
                     response_seconds = EXCLUDED.response_seconds, filled_at = now()""",
                rows,
            )


async def _save_open_runs(conn: AsyncConnection[Any], tables: AgentTables, at: date) -> None:
    await conn.execute("DELETE FROM report_open_runs WHERE agent_id = %s", (tables.agent_id,))
    await conn.execute(
        sql.SQL(
            "INSERT INTO report_open_runs (agent_id, customer_id, start)"
            " SELECT {agent}, q.customer_id, q.start FROM ({runs}) q"
        ).format(agent=sql.Literal(tables.agent_id), runs=tables.query(OPEN_RUNS)),
        {"lo": instant(at)},
    )


async def refresh(conn: AsyncConnection[Any], tables: AgentTables) -> bool | None:
    """Fill one agent's settled days (at most CHUNK_DAYS, in one transaction): True when more are
    left, False when it is up to date, None when another transaction holds the agent's lock."""
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT pg_try_advisory_xact_lock(%s, hashint8(%s::bigint)) AS got",
            (LOCK_CLASS, tables.agent_id),
        )
        if not (await cur.fetchone() or {}).get("got"):
            return None
        await conn.execute(
            "SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)"
        )
        until = settled_until(await today_utc(conn))
        state = await _state(conn, tables, until)
        assert state is not None
        filled, open_runs = state
        if filled < until:
            hi = min(until, filled + timedelta(days=CHUNK_DAYS))
            await _save_days(conn, tables, filled, hi, open_runs)
            filled, open_runs = hi, False
        if filled >= until and not open_runs:
            await _save_open_runs(conn, tables, filled)
            open_runs = True
        await conn.execute(
            """INSERT INTO report_agents (agent_id, filled_until, open_runs) VALUES (%s, %s, %s)
               ON CONFLICT (agent_id) DO UPDATE SET filled_until = EXCLUDED.filled_until,
                 open_runs = EXCLUDED.open_runs, updated_at = now()""",
            (tables.agent_id, filled, open_runs),
        )
        return filled < until


async def refresh_all(conn: AsyncConnection[Any]) -> int:
    """Bring every agent's rollup up to date (agents locked by another worker are skipped); the
    number of agents refreshed."""
    until = settled_until(await today_utc(conn))
    cur = await conn.execute(
        """SELECT a.id, a.agent_prefix FROM agents a LEFT JOIN report_agents s ON s.agent_id = a.id
           WHERE s.agent_id IS NULL OR s.filled_until < %s OR NOT s.open_runs
              OR EXISTS (SELECT 1 FROM report_stale_days m WHERE m.agent_id = a.id)
           ORDER BY a.id""",
        (until,),
    )
    done = 0
    for a in await cur.fetchall():
        tables = AgentTables(a["id"], a["agent_prefix"])
        try:
            while (more := await refresh(conn, tables)) is True:
                pass
        except psycopg.Error:  # one agent's failure (logged) does not hold up the others
            log.exception("agent %s: the dashboard rollup could not be filled", a["id"])
            continue
        if more is False:  # None: another worker holds this agent and fills it
            done += 1
    return done
