"""Per-member figures of one workspace: conversations resolved, median first response time,
replies sent (the dashboard's team table and GET /api/v1/reports/members)."""

from __future__ import annotations

from datetime import date
from typing import Any

from psycopg import AsyncConnection

from wacrm.agents.tables import AgentTables
from wacrm.members import service as members
from wacrm.reports.service import period

# A reply's first-response time: from the customer's first message after the previous reply
# (or their first message ever) to this reply, for replies that end such a wait; each is
# credited to the member who sent it. Two index probes per reply (customer, time). Automations
# (payload 'automatic': away message, greeting, order status message, broadcast) are no replies
# and end no wait, even when they name the member who caused them (sent_by); nor is a reaction
# (an emoji on the customer's message answers nothing).
_REPLIES_SQL = """
WITH o AS (
  SELECT m.customer_id, m."timestamp" AS at, m.sent_by,
         (SELECT p."timestamp" FROM {messages} p WHERE p.customer_id = m.customer_id
            AND p.direction = 'outbound' AND p."timestamp" < m."timestamp"
            AND NOT coalesce(p.payload ? 'automatic', false)
            AND p.wa_type IS DISTINCT FROM 'reaction'
          ORDER BY p."timestamp" DESC LIMIT 1) AS prev_out
  FROM {messages} m
  WHERE m.direction = 'outbound' AND m.sent_by IS NOT NULL
    AND NOT coalesce(m.payload ? 'automatic', false)
    AND m.wa_type IS DISTINCT FROM 'reaction'
    AND m."timestamp" >= %(start)s AND m."timestamp" < %(end)s
), w AS (
  SELECT o.sent_by, o.at,
         (SELECT i."timestamp" FROM {messages} i WHERE i.customer_id = o.customer_id
            AND i.direction = 'inbound' AND i."timestamp" <= o.at
            AND (o.prev_out IS NULL OR i."timestamp" > o.prev_out)
          ORDER BY i."timestamp" LIMIT 1) AS waited_since
  FROM o
)
SELECT sent_by AS user_id, count(*) AS replies,
       count(waited_since) AS responses,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM at - waited_since))
         FILTER (WHERE waited_since IS NOT NULL) AS median_seconds
FROM w GROUP BY sent_by
"""
_RESOLVED_SQL = """
SELECT actor_id AS user_id, count(*) AS resolved FROM {conversation_events}
WHERE kind = 'status' AND to_value = 'resolved' AND actor_id IS NOT NULL
  AND created_at >= %(start)s AND created_at < %(end)s
GROUP BY actor_id
"""


async def member_figures(
    conn: AsyncConnection[Any], *, tables: AgentTables, start: date, end: date, zone: str = "UTC"
) -> list[dict[str, Any]]:
    """One row per member (and per former member who still has figures in the period); the days
    are those of `zone` (the viewer's time zone on the dashboard)."""
    first, after = period(start, end, zone)
    params = {"start": first, "end": after}
    rows: dict[Any, dict[str, Any]] = {}
    for m in await members.list_members(conn, agent_id=tables.agent_id):
        rows[m["user_id"]] = _blank(m["user_id"], m["name"], m["role"])
    cur = await conn.execute(tables.query(_REPLIES_SQL), params)
    for r in await cur.fetchall():
        row = rows.setdefault(r["user_id"], _blank(r["user_id"], None, "former"))
        row.update(
            replies=r["replies"],
            responses=r["responses"],
            median_first_response_seconds=r["median_seconds"],
        )
    cur = await conn.execute(tables.query(_RESOLVED_SQL), params)
    for r in await cur.fetchall():
        rows.setdefault(r["user_id"], _blank(r["user_id"], None, "former"))["resolved"] = r[
            "resolved"
        ]
    await _names(conn, rows)
    return sorted(rows.values(), key=lambda r: (-r["replies"], r["name"] or ""))


def _blank(user_id: Any, name: str | None, role: str) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "name": name,
        "role": role,
        "resolved": 0,
        "replies": 0,
        "responses": 0,
        "median_first_response_seconds": None,
    }


async def _names(conn: AsyncConnection[Any], rows: dict[Any, dict[str, Any]]) -> None:
    missing = [k for k, r in rows.items() if r["name"] is None]
    if missing:
        cur = await conn.execute("SELECT id, name FROM users WHERE id = ANY(%s)", (missing,))
        for r in await cur.fetchall():
            rows[r["id"]]["name"] = r["name"]
