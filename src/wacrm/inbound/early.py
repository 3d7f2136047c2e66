"""Stranded early statuses: a status webhook processed while the send's wamid was being recorded.

A status whose wamid is not in the agent's messages yet is kept in `inbound_early_statuses`, and the
messages' trigger applies it when the wamid is written. When the status's transaction commits just
after the trigger ran (the two overlapped), the trigger did not see it and nobody would: a fast
`failed` status would leave the message shown as sent. Every worker sweeps such rows once they are
a few seconds old, and drops the statuses of wamids that never became a message of ours.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from wacrm.agents.tables import AgentTables

SETTLE = "5 seconds"  # younger early statuses may still be applied by the trigger
ORPHAN_AFTER = "7 days"  # a wamid that is not ours by then never will be (Meta re-delivers for 7)

# Same rules as the trigger (wacrm_apply_early_status): the highest-ranked status wins when it
# ranks above the message's, and a `failed` one brings its error. One event per changed message.
_APPLY = """
WITH e AS (
  DELETE FROM inbound_early_statuses e USING {messages} m
  WHERE e.agent_id = %(agent)s AND e.received_at < now() - %(settle)s::interval
    AND m.wamid = e.wamid AND m.direction = 'outbound'
  RETURNING e.*
), best AS (
  SELECT DISTINCT ON (wamid) wamid, status, status_at FROM e
  ORDER BY wamid, wacrm_status_rank(status) DESC
), failed AS (
  SELECT DISTINCT ON (wamid) wamid, error_code, error_title, error_details FROM e
  WHERE status = 'failed' ORDER BY wamid
), upd AS (
  UPDATE {messages} m SET
    status = CASE WHEN wacrm_status_rank(best.status) > wacrm_status_rank(m.status)
                  THEN best.status ELSE m.status END,
    status_at = CASE WHEN wacrm_status_rank(best.status) > wacrm_status_rank(m.status)
                     THEN best.status_at ELSE m.status_at END,
    error_code = CASE WHEN failed.wamid IS NULL THEN m.error_code ELSE failed.error_code END,
    error_title = CASE WHEN failed.wamid IS NULL THEN m.error_title ELSE failed.error_title END,
    error_details = CASE WHEN failed.wamid IS NULL THEN m.error_details
                         ELSE failed.error_details END
  FROM best LEFT JOIN failed ON failed.wamid = best.wamid
  WHERE m.wamid = best.wamid
  RETURNING m.id, m.customer_id
)
SELECT pg_notify('wacrm_events', json_build_object('agent_id', %(agent)s::bigint,
  'kind', 'status', 'customer_id', upd.customer_id, 'message_id', upd.id,
  'order_id', NULL::int)::text)
FROM upd
"""

_AGENTS = """
SELECT DISTINCT e.agent_id, a.agent_prefix FROM inbound_early_statuses e
JOIN agents a ON a.id = e.agent_id
WHERE e.received_at < now() - %s::interval
"""

_ORPHANS = "DELETE FROM inbound_early_statuses WHERE received_at < now() - %s::interval"


async def sweep_early_statuses(conn: AsyncConnection[Any]) -> int:
    """Apply settled early statuses whose message now exists; drop old orphans. Return how many
    messages changed."""
    cur = await conn.execute(_AGENTS, (SETTLE,))
    changed = 0
    for row in await cur.fetchall():
        tables = AgentTables(row["agent_id"], row["agent_prefix"])
        async with conn.transaction():
            done = await conn.execute(
                tables.query(_APPLY), {"agent": tables.agent_id, "settle": SETTLE}
            )
            changed += done.rowcount
    await conn.execute(_ORPHANS, (ORPHAN_AFTER,))
    return changed
