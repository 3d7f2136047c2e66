"""Snoozed conversations reopen by themselves at snoozed_until (the periodic job's work)."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from wacrm.agents.tables import AgentTables
from wacrm.realtime import events as realtime

BATCH = 500

_DUE_SQL = """
DELETE FROM conversation_snoozes s USING (
  SELECT agent_id, customer_id FROM conversation_snoozes WHERE snoozed_until <= now()
  ORDER BY snoozed_until LIMIT %s FOR UPDATE SKIP LOCKED
) d, agents a
WHERE s.agent_id = d.agent_id AND s.customer_id = d.customer_id AND a.id = s.agent_id
RETURNING s.agent_id, a.agent_prefix, s.customer_id
"""

_REOPEN_SQL = """
WITH woke AS (
  UPDATE {customers} SET conversation_status = 'open', snoozed_until = NULL
  WHERE id = ANY(%(ids)s) AND conversation_status = 'snoozed' AND snoozed_until <= now()
  RETURNING id
)
INSERT INTO {conversation_events} (customer_id, actor_id, kind, from_value, to_value)
SELECT id, NULL, 'status', 'snoozed', 'open' FROM woke
RETURNING customer_id
"""


async def wake_due(conn: AsyncConnection[Any]) -> int:
    """Reopen every conversation whose snooze has ended (batches; several workers share them)."""
    woken = 0
    while True:
        async with conn.transaction():
            cur = await conn.execute(_DUE_SQL, (BATCH,))
            due = await cur.fetchall()
            by_agent: dict[tuple[int, str], list[int]] = {}
            for row in due:
                by_agent.setdefault((row["agent_id"], row["agent_prefix"]), []).append(
                    row["customer_id"]
                )
            for (agent_id, prefix), ids in by_agent.items():
                tables = AgentTables(agent_id, prefix)
                cur = await conn.execute(tables.query(_REOPEN_SQL), {"ids": ids})
                for row in await cur.fetchall():
                    woken += 1
                    await realtime.notify(
                        conn, agent_id=agent_id, kind="conversation", customer_id=row["customer_id"]
                    )
        if len(due) < BATCH:
            return woken
