"""Erase one customer's data on request: messages, orders (items, history), media files, journal copies."""

from __future__ import annotations

import logging
from typing import Any

from psycopg import AsyncConnection

from wacrm.agents.tables import AgentTables
from wacrm.media.store import FolderStore, MediaStore, media_key
from wacrm.realtime import events

log = logging.getLogger(__name__)


class CustomerNotFoundError(LookupError):
    """No such customer in that agent's tables."""


async def erasure_plan(
    conn: AsyncConnection[Any], *, tables: AgentTables, customer_id: int
) -> dict[str, Any]:
    """What `erase_customer` would remove (counts), without removing anything."""
    cur = await conn.execute(
        tables.query(
            """SELECT c.id, c.phone, c.bsuid,
                 (SELECT count(*) FROM {messages} m WHERE m.customer_id = c.id) AS messages,
                 (SELECT count(*) FROM {orders} o WHERE o.customer_id = c.id) AS orders,
                 (SELECT count(*) FROM {orders_items} i JOIN {orders} o ON o.id = i.order_id
                   WHERE o.customer_id = c.id) AS order_items,
                 (SELECT count(*) FROM {orders_history} h JOIN {orders} o ON o.id = h.order_id
                   WHERE o.customer_id = c.id) AS order_history
               FROM {customers} c WHERE c.id = %s"""
        ),
        (customer_id,),
    )
    row = await cur.fetchone()
    if row is None:
        raise CustomerNotFoundError(
            f"no customer {customer_id} in agent {tables.agent_id}'s tables"
        )
    return dict(row)


async def _journal_ids(
    conn: AsyncConnection[Any], *, agent_id: int, needles: list[str]
) -> list[int]:
    """Webhook journal rows of this agent's number(s) whose raw body names the customer."""
    if not needles:
        return []
    cur = await conn.execute(
        """SELECT j.id FROM webhook_journal j
           WHERE j.phone_number_id IN (
                   SELECT w.phone_number_id FROM whatsapp_configuration w
                   JOIN agents a ON a.user_id = w.user_id WHERE a.id = %s)
             AND EXISTS (SELECT 1 FROM unnest(%s::text[]) n
                         WHERE position(convert_to('"' || n || '"', 'UTF8') IN j.body) > 0)""",
        (agent_id, needles),
    )
    return [r["id"] for r in await cur.fetchall()]


async def erase_customer(
    conn: AsyncConnection[Any],
    *,
    tables: AgentTables,
    customer_id: int,
    store: MediaStore | None = None,
) -> dict[str, Any]:
    """Delete the customer and everything about them in one transaction, then their media files.

    Removes messages, orders with their items and status history, delivery statuses waiting for
    their messages, send bookkeeping, files uploaded only for their messages, and the raw webhook
    journal rows (of this agent's number) that carry their phone number or WhatsApp user id.
    Returns the counts removed.
    """
    async with conn.transaction():
        plan = await erasure_plan(conn, tables=tables, customer_id=customer_id)
        message_ids = await _delete_customer_rows(conn, tables, customer_id)
        needles = [v for v in (plan["phone"], plan["bsuid"]) if v]
        journal = await _journal_ids(conn, agent_id=tables.agent_id, needles=needles)
        await conn.execute("DELETE FROM webhook_journal WHERE id = ANY(%s)", (journal,))
        await conn.execute(tables.query("DELETE FROM {customers} WHERE id = %s"), (customer_id,))
        await events.notify(
            conn, agent_id=tables.agent_id, kind="customer", customer_id=customer_id
        )
    files = 0
    if store is not None:
        for message_id in message_ids:
            key = media_key(tables.agent_id, message_id)
            existed = store.path(key).exists() if isinstance(store, FolderStore) else True
            await store.delete(key)
            files += int(existed)
    log.info("erased customer %s of agent %s", customer_id, tables.agent_id)
    return {
        "customer_id": customer_id,
        "messages": int(plan["messages"]),
        "orders": int(plan["orders"]),
        "order_items": int(plan["order_items"]),
        "order_history": int(plan["order_history"]),
        "journal_rows": len(journal),
        "media_files": files,
    }


# the customer's rows in the agent's tables, in this order (a parameter: the customer's id);
# another customer's message could point at this customer's order: kept, unlinked
_CUSTOMER_ROWS = (
    "UPDATE {customers} SET last_message_id = NULL WHERE id = %s",
    "DELETE FROM {orders_history} WHERE order_id IN (SELECT id FROM {orders} WHERE customer_id = %s)",
    "DELETE FROM {orders_items} WHERE order_id IN (SELECT id FROM {orders} WHERE customer_id = %s)",
    "DELETE FROM {messages} WHERE customer_id = %s",
    "UPDATE {messages} SET order_id = NULL WHERE order_id IN"
    " (SELECT id FROM {orders} WHERE customer_id = %s)",
    "DELETE FROM {orders} WHERE customer_id = %s",
)


async def _delete_customer_rows(
    conn: AsyncConnection[Any], tables: AgentTables, customer_id: int
) -> list[int]:
    """Lock the customer and delete their rows (and the shared rows of their messages); the ids
    of their messages."""
    await conn.execute(
        tables.query("SELECT 1 FROM {customers} WHERE id = %s FOR UPDATE"), (customer_id,)
    )
    cur = await conn.execute(
        tables.query(
            """SELECT id, wamid, payload->>'media_id' AS upload_id FROM {messages}
               WHERE customer_id = %s"""
        ),
        (customer_id,),
    )
    messages = await cur.fetchall()
    message_ids = [m["id"] for m in messages]
    wamids = [m["wamid"] for m in messages if m["wamid"]]
    uploads = {int(m["upload_id"]) for m in messages if (m["upload_id"] or "").isdigit()}
    for statement in _CUSTOMER_ROWS:
        await conn.execute(tables.query(statement), (customer_id,))
    await conn.execute(
        "DELETE FROM outbound_sends WHERE agent_id = %s AND message_id = ANY(%s)",
        (tables.agent_id, message_ids),
    )
    await conn.execute(
        "DELETE FROM inbound_early_statuses WHERE agent_id = %s AND wamid = ANY(%s)",
        (tables.agent_id, wamids),
    )
    await conn.execute(
        "DELETE FROM inbound_early_changes WHERE agent_id = %s AND wamid = ANY(%s)",
        (tables.agent_id, wamids),
    )
    if uploads:
        await conn.execute(
            tables.query(
                """DELETE FROM outbound_media u WHERE u.agent_id = %s AND u.id = ANY(%s)
                     AND NOT EXISTS (SELECT 1 FROM {messages} m WHERE m.payload->>'media_id' = u.id::text)"""
            ),
            (tables.agent_id, list(uploads)),
        )
    return message_ids
