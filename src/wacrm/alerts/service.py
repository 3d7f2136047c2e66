"""What the browser needs to alert a user: unread conversations and one new message's summary."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql

from wacrm.agents.tables import AgentTables
from wacrm.conversations.previews import preview

NOTIFICATION_TEXT_MAX = 100

_MESSAGE_SQL = """
SELECT m.id, m.customer_id, m.direction, m.message, m.caption, m.media_type, m.wa_type,
       m.media_filename, m.media_mime_type, m.raw, m.payload, NULL::bigint AS order_items,
       c.name, c.phone, c.username
FROM {messages} m JOIN {customers} c ON c.id = m.customer_id
WHERE m.id = %(message_id)s AND m.customer_id = %(customer_id)s AND {mine}
"""
# With a team (the workspace has members), a user is alerted about the conversations assigned to
# them or to nobody; alone, about every conversation of the workspace.
_MINE = """(c.assignee_id IS NULL OR c.assignee_id = %(user_id)s
  OR NOT EXISTS (SELECT 1 FROM agent_members am WHERE am.agent_id = %(agent_id)s))"""


async def unread_conversations(
    conn: AsyncConnection[Any], *, tables: AgentTables, user_id: UUID
) -> int:
    """How many of the user's conversations have unread messages (partial index on unread)."""
    cur = await conn.execute(
        tables.query(
            "SELECT count(*) AS n FROM {customers} c WHERE c.unread_count > 0 AND {mine}",
            mine=sql.SQL(_MINE),
        ),
        {"user_id": user_id, "agent_id": tables.agent_id},
    )
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def new_message(
    conn: AsyncConnection[Any],
    *,
    tables: AgentTables,
    user_id: UUID,
    customer_id: int,
    message_id: int,
) -> dict[str, Any] | None:
    """An inbound message of one of the user's conversations as a notification (customer name,
    the start of the text), else None."""
    cur = await conn.execute(
        tables.query(_MESSAGE_SQL, mine=sql.SQL(_MINE)),
        {
            "message_id": message_id,
            "customer_id": customer_id,
            "user_id": user_id,
            "agent_id": tables.agent_id,
        },
    )
    row = await cur.fetchone()
    if row is None or row["direction"] != "inbound" or (row["wa_type"] or "") == "reaction":
        return None
    text = preview(row)
    if len(text) > NOTIFICATION_TEXT_MAX:
        text = text[: NOTIFICATION_TEXT_MAX - 1] + "…"
    return {
        "id": row["id"],
        "customer_id": row["customer_id"],
        "title": row["name"] or row["phone"] or row["username"] or f"#{row['customer_id']}",
        "text": text,
        "url": f"/chat/{row['customer_id']}",
    }
