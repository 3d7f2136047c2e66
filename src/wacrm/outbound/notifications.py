"""Telling a customer that their order's status changed (free-form in the window, a template outside)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from wacrm.agents.tables import AgentTables
from wacrm.outbound import service
from wacrm.outbound.schemas import TemplateContent, TextContent

DEFAULTS = {
    "text_template": "Your order #{order_id} is now {status}.",
    "template_name": "order_update",
    "template_language": "en_US",
}


async def get_settings(conn: AsyncConnection[Any], *, agent_id: int) -> dict[str, Any]:
    cur = await conn.execute(
        "SELECT text_template, template_name, template_language FROM order_notification_settings WHERE agent_id = %s",
        (agent_id,),
    )
    row = await cur.fetchone()
    return dict(row) if row else dict(DEFAULTS)


async def notify_order_status(
    conn: AsyncConnection[Any],
    *,
    tables: AgentTables,
    agent_id: int,
    order_id: int,
    status: str,
    actor_id: UUID | None,
) -> int | None:
    """Queue the status message for the order's customer; its message id, or None when the agent's
    notify_order_status is off. Runs in the caller's transaction when there is one."""
    cur = await conn.execute("SELECT notify_order_status FROM agents WHERE id = %s", (agent_id,))
    agent = await cur.fetchone()
    if agent is None or not agent["notify_order_status"]:
        return None
    cur = await conn.execute(
        tables.query(
            """SELECT o.customer_id, c.last_inbound_at > now() - interval '24 hours' AS window_open
               FROM {orders} o JOIN {customers} c ON c.id = o.customer_id WHERE o.id = %s"""
        ),
        (order_id,),
    )
    order = await cur.fetchone()
    if order is None:
        raise service.OutboundError(f"no order {order_id}", 404)
    settings = await get_settings(conn, agent_id=agent_id)
    content: TextContent | TemplateContent
    if order["window_open"]:
        content = TextContent(
            body=settings["text_template"].format(order_id=order_id, status=status)
        )
    else:
        content = TemplateContent(
            name=settings["template_name"],
            language=settings["template_language"],
            body_params=[f"#{order_id}", status],
        )
    message = await service.queue_message(
        conn,
        tables=tables,
        agent_id=agent_id,
        customer_id=order["customer_id"],
        content=content,
        sent_by=actor_id,
    )
    return int(message["id"])
