"""Who a broadcast reaches: the workspace's customers matching its filters, never the opted-out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql
from pydantic import BaseModel, Field

from wacrm.agents.tables import AgentTables


class Audience(BaseModel):
    labels: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="customers whose conversation has any of these labels (none: every customer)",
    )
    last_contact_after: datetime | None = Field(
        None, description="the customer last wrote at or after this instant"
    )
    last_contact_before: datetime | None = Field(
        None, description="the customer last wrote before this instant, or never"
    )
    has_orders: bool | None = Field(
        None, description="true: with orders; false: without; null: both"
    )
    opted_in_only: bool = Field(
        False, description="only customers who opted in (the opted-out are always left out)"
    )


_WHERE = """
FROM {customers} c
WHERE c.opted_in IS DISTINCT FROM false
  AND (c.phone IS NOT NULL OR c.bsuid IS NOT NULL)
  AND (NOT %(opted_in_only)s OR c.opted_in)
  AND (%(after)s::timestamptz IS NULL OR c.last_inbound_at >= %(after)s)
  AND (%(before)s::timestamptz IS NULL OR c.last_inbound_at IS NULL OR c.last_inbound_at < %(before)s)
  AND (%(has_orders)s::boolean IS NULL
       OR EXISTS (SELECT FROM {orders} o WHERE o.customer_id = c.id) = %(has_orders)s)
  AND (cardinality(%(labels)s::text[]) = 0 OR EXISTS (
       SELECT FROM {conversation_labels} cl JOIN workspace_labels w ON w.id = cl.label_id
       WHERE cl.customer_id = c.id AND w.agent_id = %(agent)s AND w.name = ANY (%(labels)s)))
"""


def params(audience: Audience, agent_id: int) -> dict[str, Any]:
    return {
        "opted_in_only": audience.opted_in_only,
        "after": audience.last_contact_after,
        "before": audience.last_contact_before,
        "has_orders": audience.has_orders,
        "labels": [x.strip().lower() for x in audience.labels if x.strip()],
        "agent": agent_id,
    }


def where(tables: AgentTables) -> sql.Composed:
    return tables.query(_WHERE)


async def count(conn: AsyncConnection[Any], *, tables: AgentTables, audience: Audience) -> int:
    cur = await conn.execute(
        tables.query("SELECT count(*) AS n ") + where(tables), params(audience, tables.agent_id)
    )
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def sample(
    conn: AsyncConnection[Any], *, tables: AgentTables, audience: Audience, limit: int = 3
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        tables.query("SELECT c.id, c.name, c.phone, c.bsuid ")
        + where(tables)
        + sql.SQL(" ORDER BY c.last_inbound_at DESC NULLS LAST, c.id LIMIT {}").format(limit),
        params(audience, tables.agent_id),
    )
    return [dict(r) for r in await cur.fetchall()]
