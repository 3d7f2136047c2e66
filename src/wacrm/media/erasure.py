"""Media files of messages the customer deleted (revoked): removed from the store.

The revoke queues the message in `media_erasures` in its own transaction (migration 0083); this
takes a batch of the queue, deletes the files, and drops the rows in one transaction, so a file
whose deletion fails stays queued and is tried again by the next run.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from wacrm.media.store import MediaStore, media_key

_TAKE = """
DELETE FROM media_erasures WHERE (agent_id, message_id) IN (
  SELECT agent_id, message_id FROM media_erasures ORDER BY queued_at
  LIMIT %s FOR UPDATE SKIP LOCKED)
RETURNING agent_id, message_id
"""


async def erase_revoked(conn: AsyncConnection[Any], *, store: MediaStore, limit: int = 200) -> int:
    """Delete the stored files of up to `limit` revoked messages; how many were taken."""
    async with conn.transaction():
        cur = await conn.execute(_TAKE, (limit,))
        taken = await cur.fetchall()
        for row in taken:
            await store.delete(media_key(int(row["agent_id"]), int(row["message_id"])))
    return len(taken)
