"""Telling the customer about an order's new status, when the agent has that turned on."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from wacrm.agents.tables import AgentTables

log = logging.getLogger(__name__)


async def notify_customer(
    conn: AsyncConnection[Any],
    *,
    tables: AgentTables,
    order_id: int,
    status: str,
    actor_id: UUID | None,
) -> int | None:
    """Queue the status message if the agent has notify_order_status on (in a savepoint: a
    notification that cannot be queued is logged and does not undo the status change)."""
    cur = await conn.execute(
        "SELECT notify_order_status FROM agents WHERE id = %s", (tables.agent_id,)
    )
    row = await cur.fetchone()
    if not row or not row["notify_order_status"]:
        return None
    try:
        # lazily: outbound imports much more than orders needs
        from wacrm.outbound.notifications import notify_order_status

        async with conn.transaction():
            return await notify_order_status(
                conn,
                tables=tables,
                agent_id=tables.agent_id,
                order_id=order_id,
                status=status,
                actor_id=actor_id,
            )
    except Exception:
        log.exception(
            "order %s of agent %s: the %s notification could not be queued",
            order_id,
            tables.agent_id,
            status,
        )
        return None
