"""The numbers page's rows: configurations with their verify token, history import and health."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from wacrm.numbers import health
from wacrm.numbers import service as numbers


async def configs(conn: AsyncConnection[Any]) -> list[dict[str, Any]]:
    """Configurations (masked) with the plain verify token an admin pastes into Meta."""
    cur = await conn.execute("SELECT id, verify_token FROM whatsapp_configuration")
    tokens = {r["id"]: r["verify_token"] for r in await cur.fetchall()}
    history = await numbers.history_imports(conn)
    health_events = await health.history(conn, list(tokens))
    # (one statement: reading each configuration again decrypted all its secrets)
    return [
        {
            **c,
            "verify_token": tokens.get(c["id"]),
            "history": history.get(c["phone_number_id"]),
            "health_events": health_events.get(c["id"], []),
        }
        for c in await numbers.list_configurations(conn)
    ]
