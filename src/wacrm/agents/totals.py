"""Customers, messages and orders of many agents, read from shared tables (never their own).

Customers from the kept conversation counts (exact at every commit: one conversation per
customer), messages and orders from the dashboard's rollup of all agents (as of the agent's last
count, `counted_at`; none before its first). One statement for a page of agents, whatever their
number: counting in each agent's tables took a statement per ten agents and ~20 locks per agent.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

_TOTALS = """
SELECT a.id AS agent_id,
  (SELECT coalesce(sum(c.n), 0) FROM conversation_counts c
    WHERE c.agent_id = a.id AND c.label_id = 0) AS customers,
  CASE WHEN r.counted_at IS NOT NULL THEN
    (SELECT coalesce(sum(d.messages_in + d.messages_out), 0) FROM report_days d
      WHERE d.agent_id = a.id AND d.day < coalesce(r.recent_from, r.filled_until))
    + (SELECT coalesce(sum(d.messages_in + d.messages_out), 0) FROM report_recent_days d
      WHERE d.agent_id = a.id) END AS messages,
  CASE WHEN r.counted_at IS NOT NULL THEN
    (SELECT coalesce(sum(o.orders), 0) FROM report_order_days o WHERE o.agent_id = a.id)
  END AS orders,
  r.counted_at
FROM unnest(%s::bigint[]) AS a(id) LEFT JOIN report_agents r ON r.agent_id = a.id
"""


async def totals(conn: AsyncConnection[Any], agent_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each agent's customers, messages and orders (None until counted) and when counted."""
    if not agent_ids:
        return {}
    cur = await conn.execute(_TOTALS, (agent_ids,))
    return {
        r["agent_id"]: {
            "customers": int(r["customers"]),
            "messages": None if r["messages"] is None else int(r["messages"]),
            "orders": None if r["orders"] is None else int(r["orders"]),
            "counted_at": r["counted_at"],
        }
        for r in await cur.fetchall()
    }
