"""The all-agents rollup: each agent's quarter hours since its settled days, and its orders.

The all-agents dashboard reads shared tables only (wacrm.reports.everyone): one statement over
every agent's own tables takes ~15 locks per agent and exhausted PostgreSQL's lock table at a few
hundred agents. `refresh_everything` (the periodic job of wacrm.reports.tasks, every minute) brings
the settled rollup up to date (wacrm.reports.rollup), then counts, one agent per transaction, the
quarter hours from each agent's filled_until to today into report_quarters and its orders per
quarter of their creation, status and currency into report_order_quarters
(wacrm.reports.quarters), then sums the changed UTC days over every agent. An agent is counted
again only when the statistics counters of its tables (rows inserted, updated, deleted) moved
since its last count, when its filled_until moved, or after RECOUNT_AFTER anyway.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from wacrm.agents.tables import AgentTables
from wacrm.db.pool import dedicated_connection
from wacrm.reports import quarters, rollup
from wacrm.reports.figures import count_quarters, instant

log = logging.getLogger(__name__)

RECOUNT_AFTER = timedelta(hours=1)  # counted again even when the counters did not move

# Rows written to an agent's tables since the statistics were reset (committed or not: a write
# only makes its agent be counted again). to_regclass takes no lock on the tables.
_CHANGES = """
SELECT a.id, a.agent_prefix, s.filled_until, s.recent_from, s.counted_at, s.changes AS counted,
  (SELECT coalesce(sum(pg_stat_get_tuples_inserted(r) + pg_stat_get_tuples_updated(r)
                       + pg_stat_get_tuples_deleted(r)), 0)::bigint
   FROM unnest(ARRAY[to_regclass('public.' || a.agent_prefix || '_messages'),
                     to_regclass('public.' || a.agent_prefix || '_customers'),
                     to_regclass('public.' || a.agent_prefix || '_orders')]) AS r
   WHERE r IS NOT NULL) AS changes
FROM agents a JOIN report_agents s ON s.agent_id = a.id
ORDER BY a.id"""


_ORDER_DAYS = """
INSERT INTO report_order_days (agent_id, day, status, currency, orders, total)
SELECT {agent}, (o.created_at AT TIME ZONE 'UTC')::date, o.status, btrim(o.currency), count(*),
  coalesce(sum(o.total_amount), 0)
FROM {orders} o GROUP BY 2, 3, 4"""


async def _save_utc_days(conn: AsyncConnection[Any], tables: AgentTables, figures: Any) -> None:
    """The agent's recent UTC days and orders per UTC day (the agents page's totals read them)."""
    agent = tables.agent_id
    await conn.execute("DELETE FROM report_recent_days WHERE agent_id = %s", (agent,))
    rows = [
        (agent, day, f.messages_in, f.messages_out, f.new_customers, sorted(f.response_seconds))
        for day, f in sorted(figures.items())
    ]
    if rows:
        async with conn.cursor() as cur:
            await cur.executemany(
                """INSERT INTO report_recent_days (agent_id, day, messages_in, messages_out,
                     new_customers, response_seconds) VALUES (%s, %s, %s, %s, %s, %s::float8[])""",
                rows,
            )
    await conn.execute("DELETE FROM report_order_days WHERE agent_id = %s", (agent,))
    await conn.execute(tables.query(_ORDER_DAYS, agent=sql.Literal(agent)))


@dataclass(frozen=True)
class Cycle:
    """What one cycle did: agents whose settled days were filled, agents counted again."""

    refreshed: int = 0
    counted: int = 0


async def recount(conn: AsyncConnection[Any], tables: AgentTables, *, changes: int | None) -> bool:
    """Count one agent's days from its filled_until to today and its orders, in one transaction
    under the agent's rollup lock; False when another transaction holds it or nothing is filled."""
    agent = tables.agent_id
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT pg_try_advisory_xact_lock(%s, hashint8(%s::bigint)) AS got",
            (rollup.LOCK_CLASS, agent),
        )
        if not (await cur.fetchone() or {}).get("got"):
            return False
        await conn.execute(
            "SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)"
        )
        cur = await conn.execute(
            "SELECT filled_until, open_runs FROM report_agents WHERE agent_id = %s", (agent,)
        )
        state = await cur.fetchone()
        if state is None:
            return False
        lo, today = state["filled_until"], await rollup.today_utc(conn)
        by_quarter = await count_quarters(
            conn,
            targets=[tables],
            lo=lo,
            hi=today + timedelta(days=1),
            kept_open_runs=state["open_runs"],
        )
        await quarters.save(conn, agent, by_quarter, lo=instant(lo))
        await quarters.save_orders(conn, tables)
        await _save_utc_days(conn, tables, quarters.utc_days(by_quarter))
        await conn.execute(
            """UPDATE report_agents SET recent_from = %s, counted_at = now(), changes = %s
               WHERE agent_id = %s""",
            (lo, changes, agent),
        )
    return True


def _due(row: dict[str, Any], now: Any) -> bool:
    return (
        row["counted_at"] is None
        or row["recent_from"] != row["filled_until"]
        or row["counted"] != row["changes"]
        or row["counted_at"] < now - RECOUNT_AFTER
    )


async def recount_changed(conn: AsyncConnection[Any], *, every: bool = False) -> int:
    """Count again each agent whose tables changed since its last count (all with `every`), then
    sum the days that changed (settled ones too) over every agent."""
    cur = await conn.execute("SELECT now() AS now")
    now = (await cur.fetchone() or {})["now"]
    cur = await conn.execute(_CHANGES)
    counted = 0
    for row in await cur.fetchall():
        if not (every or _due(row, now)):
            continue
        tables = AgentTables(row["id"], row["agent_prefix"])
        try:
            counted += await recount(conn, tables, changes=row["changes"])
        except psycopg.Error:  # one agent's failure (logged) does not hold up the others
            log.exception("agent %s: the all-agents rollup could not be counted", row["id"])
    await quarters.rebuild(conn)  # the changed days summed over every agent
    return counted


async def run_cycle(conn: AsyncConnection[Any], *, every: bool = False) -> Cycle:
    """Fill the settled days, then count the changed agents' recent days (on `conn`)."""
    refreshed = await rollup.refresh_all(conn)
    return Cycle(refreshed=refreshed, counted=await recount_changed(conn, every=every))


async def refresh_everything(pool: AsyncConnectionPool[Any], *, every: bool = False) -> Cycle:
    """One cycle on a connection of its own (closed after: it touched every changed agent's
    tables). Workers running cycles at once share the agents: each skips one another is
    counting (its lock; no session-level lock, which a transaction-mode PgBouncer would leak)."""
    async with dedicated_connection(pool) as conn:
        return await run_cycle(conn, every=every)
