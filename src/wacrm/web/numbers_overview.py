"""The numbers page's rows: configurations with their verify token, history import and health."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from wacrm.numbers import health
from wacrm.numbers import service as numbers


async def configs(
    conn: AsyncConnection[Any], *, limit: int | None = None, offset: int = 0, user_id: Any = None
) -> list[dict[str, Any]]:
    """A page of configurations (masked; or a user's) with the plain verify token an admin
    pastes into Meta, its chat-history import and its last health events."""
    shown = await numbers.list_configurations(conn, limit=limit, offset=offset, user_id=user_id)
    ids = [c["id"] for c in shown]
    cur = await conn.execute(
        "SELECT id, verify_token FROM whatsapp_configuration WHERE id = ANY(%s)", (ids,)
    )
    tokens = {r["id"]: r["verify_token"] for r in await cur.fetchall()}
    history = await numbers.history_imports(
        conn, [c["phone_number_id"] for c in shown if c["phone_number_id"]]
    )
    health_events = await health.history(conn, ids)
    return [
        {
            **c,
            "verify_token": tokens.get(c["id"]),
            "history": history.get(c["phone_number_id"]),
            "health_events": health_events.get(c["id"], []),
        }
        for c in shown
    ]


async def count(conn: AsyncConnection[Any]) -> int:
    cur = await conn.execute("SELECT count(*) AS n FROM whatsapp_configuration")
    row = await cur.fetchone()
    return int(row["n"]) if row else 0
