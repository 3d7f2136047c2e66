"""Message templates of a number: listed from Meta (GET /{waba-id}/message_templates) and cached."""

from __future__ import annotations

import json
from typing import Any

from psycopg import AsyncConnection

from wacrm.config import GraphApi
from wacrm.outbound.client import client_for


async def cached(conn: AsyncConnection[Any], *, config_id: int) -> list[dict[str, Any]]:
    cur = await conn.execute(
        """SELECT name, language, status, category, components, fetched_at, template_id,
             rejected_reason, status_updated_at, previous_category FROM whatsapp_templates
           WHERE config_id = %s ORDER BY name, language""",
        (config_id,),
    )
    return [dict(r) for r in await cur.fetchall()]


async def refresh(
    conn: AsyncConnection[Any], *, config: dict[str, Any], graph: GraphApi
) -> list[dict[str, Any]]:
    """Fetch every template from Meta and replace the cache (raises SendError when Meta refuses)."""
    async with client_for(config, graph) as client:
        found = await client.list_templates()
    async with conn.transaction():
        await conn.execute("DELETE FROM whatsapp_templates WHERE config_id = %s", (config["id"],))
        for t in found:
            await conn.execute(
                """INSERT INTO whatsapp_templates (config_id, name, language, status, category,
                     components, template_id, rejected_reason, status_updated_at)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now()) ON CONFLICT DO NOTHING""",
                (
                    config["id"],
                    t["name"],
                    t.get("language", ""),
                    t.get("status"),
                    t.get("category"),
                    json.dumps(t.get("components", [])),
                    str(t["id"]) if t.get("id") else None,
                    t.get("rejected_reason"),
                ),
            )
    return await cached(conn, config_id=config["id"])
