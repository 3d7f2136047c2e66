"""Starting due broadcasts (periodic) and queueing their messages (a job per broadcast)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from wacrm.agents.tables import AgentTables
from wacrm.broadcasts import audience as audiences
from wacrm.broadcasts import service
from wacrm.jobs import context, enqueue, entrypoint, periodic

QUEUE_JOB = "broadcasts.queue"

_DUE = """
UPDATE broadcasts b SET state = 'running', started_at = now()
FROM agents a
WHERE b.id = (SELECT id FROM broadcasts WHERE state = 'scheduled' AND scheduled_at <= now()
              ORDER BY scheduled_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
  AND a.id = b.agent_id
RETURNING b.id, b.agent_id, b.audience, a.agent_prefix
"""


async def start_due() -> int:
    """Start every broadcast whose time has come: its audience is fixed now (recipients), then a
    job queues their messages. Returns how many started."""
    started = 0
    async with context.current().pool.connection() as conn:
        while True:
            async with conn.transaction():
                cur = await conn.execute(_DUE)
                due = await cur.fetchone()
                if due is None:
                    return started
                tables = AgentTables(due["agent_id"], due["agent_prefix"])
                audience = audiences.Audience.model_validate(due["audience"])
                cur = await conn.execute(
                    tables.query(
                        "INSERT INTO broadcast_recipients (broadcast_id, customer_id) SELECT %(id)s, c.id "
                    )
                    + audiences.where(tables),
                    {**audiences.params(audience, tables.agent_id), "id": due["id"]},
                )
                await conn.execute(
                    "UPDATE broadcasts SET recipients = %s WHERE id = %s", (cur.rowcount, due["id"])
                )
                await enqueue(conn, QUEUE_JOB, {"broadcast_id": due["id"]})
                started += 1


@periodic("broadcasts.start_due", every=timedelta(seconds=1))
async def start_due_task() -> None:
    await start_due()


@entrypoint(QUEUE_JOB)
async def queue_broadcast(payload: dict[str, Any]) -> None:
    """Queue the recipients' messages chunk by chunk until done or cancelled."""
    async with context.current().pool.connection() as conn:
        cur = await conn.execute(
            """SELECT b.*, a.agent_prefix FROM broadcasts b JOIN agents a ON a.id = b.agent_id
               WHERE b.id = %s""",
            (payload["broadcast_id"],),
        )
        broadcast = await cur.fetchone()
        if broadcast is None:
            return
        tables = AgentTables(broadcast["agent_id"], broadcast["agent_prefix"])
        while await service.queue_chunk(conn, tables=tables, broadcast=broadcast):
            pass
        await conn.execute(
            """UPDATE broadcasts SET state = 'sent', queued_at = now(),
                 skipped = (SELECT count(*) FROM broadcast_recipients
                            WHERE broadcast_id = %(id)s AND skipped IS NOT NULL)
               WHERE id = %(id)s AND state = 'running'""",
            {"id": broadcast["id"]},
        )
