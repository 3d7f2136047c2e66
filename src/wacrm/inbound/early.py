"""Stranded early statuses and message changes: a status webhook processed while the send's wamid
was being recorded, or a customer's edit/deletion processed while its original was being stored.

A status whose wamid is not in the agent's messages yet is kept in `inbound_early_statuses`, and the
messages' trigger applies it when the wamid is written. When the status's transaction commits just
after the trigger ran (the two overlapped), the trigger did not see it and nobody would: a fast
`failed` status would leave the message shown as sent. Every worker sweeps such rows once they are
a few seconds old, and drops the statuses of wamids that never became a message of ours. Early
edits and deletions (`inbound_early_changes`, applied by the messages' trigger
`wacrm_apply_early_changes`) are swept the same way through `wacrm_message_change`, the one place
that applies them; those whose original never arrived are dropped after the same 7 days.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql

from wacrm.agents.tables import AgentTables
from wacrm.realtime.events import notify_sql

SETTLE = "5 seconds"  # younger early statuses may still be applied by the trigger
ORPHAN_AFTER = "7 days"  # a wamid that is not ours by then never will be (Meta re-delivers for 7)

# The trigger's own rules (wacrm_take_early_statuses, migration 0050) for each message with a
# settled early status; one event per message it updates.
_APPLY = (
    """
WITH due AS (
  SELECT DISTINCT e.wamid FROM inbound_early_statuses e
  JOIN {messages} m ON m.wamid = e.wamid AND m.direction = 'outbound'
  WHERE e.agent_id = %(agent_id)s AND e.received_at < now() - %(settle)s::interval
), upd AS (
  UPDATE {messages} m SET (status, status_at, error_code, error_title, error_details) = (
    SELECT t.s, t.s_at, t.e_code, t.e_title, t.e_details
    FROM wacrm_take_early_statuses(%(agent_id)s, m.wamid, m.status, m.status_at, m.error_code,
                                   m.error_title, m.error_details) t)
  FROM due WHERE m.wamid = due.wamid
  RETURNING m.id, m.customer_id
)
SELECT """
    + notify_sql(
        agent_id="%(agent_id)s", kind="'status'", customer_id="upd.customer_id", message_id="upd.id"
    )
    + """
FROM upd
"""
)

# The agents with settled rows in a holding table, and its orphans: {held} is the table.
_AGENTS = """
SELECT DISTINCT e.agent_id, a.agent_prefix FROM {held} e
JOIN agents a ON a.id = e.agent_id
WHERE e.received_at < now() - %s::interval
"""
_ORPHANS = "DELETE FROM {held} WHERE received_at < now() - %s::interval"

_APPLY_CHANGES = (
    """
WITH due AS (
  DELETE FROM inbound_early_changes e
  WHERE e.agent_id = %(agent_id)s AND e.received_at < now() - %(settle)s::interval
    AND EXISTS (SELECT FROM {messages} m WHERE m.wamid = e.wamid)
  RETURNING e.*
), applied AS (
  SELECT c.id, c.customer_id FROM due, LATERAL wacrm_message_change(
    %(prefix)s, %(agent_id)s::bigint, due.kind, due.wamid, due.change_wamid, due.text,
    due.caption, due.changed_at) c
)
SELECT """
    + notify_sql(
        agent_id="%(agent_id)s",
        kind="'message'",
        customer_id="applied.customer_id",
        message_id="applied.id",
    )
    + """
FROM applied
"""
)


async def _sweep(conn: AsyncConnection[Any], *, held: str, apply: str) -> int:
    """Run `apply` for each agent with settled rows in the holding table `held`, one transaction
    per agent, then drop that table's orphans; how many messages changed."""
    table = sql.Identifier(held)
    cur = await conn.execute(sql.SQL(_AGENTS).format(held=table), (SETTLE,))
    changed = 0
    for row in await cur.fetchall():
        tables = AgentTables(row["agent_id"], row["agent_prefix"])
        params = {"agent_id": tables.agent_id, "prefix": tables.prefix, "settle": SETTLE}
        async with conn.transaction():
            done = await conn.execute(tables.query(apply), params)
            changed += done.rowcount
    await conn.execute(sql.SQL(_ORPHANS).format(held=table), (ORPHAN_AFTER,))
    return changed


async def sweep_early_statuses(conn: AsyncConnection[Any]) -> int:
    """Apply settled early statuses whose message now exists; drop old orphans. Return how many
    messages changed."""
    return await _sweep(conn, held="inbound_early_statuses", apply=_APPLY)


async def sweep_early_changes(conn: AsyncConnection[Any]) -> int:
    """Apply settled early edits/deletions whose message now exists; drop old orphans. Return how
    many messages changed."""
    return await _sweep(conn, held="inbound_early_changes", apply=_APPLY_CHANGES)
