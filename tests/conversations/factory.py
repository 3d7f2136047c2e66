"""Rows as the inbound/outbound features write them, for conversation tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from tests.helpers import make_user
from wacrm.agents.service import create_agent
from wacrm.agents.tables import AgentTables

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


async def new_agent(conn: Any) -> AgentTables:
    uid = await make_user(conn, email=f"a{uuid.uuid4().hex[:8]}@example.com", role="agent")
    agent = await create_agent(conn, created_by=uid, user_id=uid)
    return AgentTables(agent["id"], agent["agent_prefix"])


async def add_customer(
    conn: Any, t: AgentTables, name: str, phone: str | None = None, username: str | None = None
) -> int:
    cur = await conn.execute(
        t.query(
            "INSERT INTO {customers} (name, phone, username, bsuid) VALUES (%s, %s, %s, %s) RETURNING id"
        ),
        (name, phone, username, None if phone else f"US.{uuid.uuid4().int % 10**12}"),
    )
    return (await cur.fetchone())["id"]


async def add_message(
    conn: Any,
    t: AgentTables,
    customer_id: int,
    text: str = "",
    *,
    direction: str = "inbound",
    at: datetime | None = None,
    media_type: str = "none",
    wa_type: str | None = None,
    raw: dict[str, Any] | None = None,
    touch: bool = True,
    **cols: Any,
) -> int:
    """Insert a message and keep the customer's inbox columns as inbound/outbound do."""
    at = at or datetime.now(UTC)
    values = {
        "customer_id": customer_id,
        "message": text,
        "direction": direction,
        "timestamp": at,
        "media_type": media_type,
        "wa_type": wa_type or ("text" if media_type == "none" else media_type),
        "raw": Jsonb(raw) if raw is not None else None,
        **cols,
    }
    names = ", ".join(f'"{k}"' for k in values)
    marks = ", ".join(["%s"] * len(values))
    cur = await conn.execute(
        t.query(f"INSERT INTO {{messages}} ({names}) VALUES ({marks}) RETURNING id"),
        list(values.values()),
    )
    mid = (await cur.fetchone())["id"]
    if touch:
        await conn.execute(
            t.query(
                "UPDATE {customers} SET last_message_at = %(at)s, last_message_id = %(id)s,"
                " unread_count = unread_count + (%(dir)s = 'inbound')::int,"
                " last_inbound_at = CASE WHEN %(dir)s = 'inbound' THEN %(at)s ELSE last_inbound_at END"
                " WHERE id = %(c)s"
            ),
            {"at": at, "id": mid, "dir": direction, "c": customer_id},
        )
    return mid


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)
