"""Journal retention: processed webhooks leave the journal after WACRM_JOURNAL_RETENTION_DAYS.

A processed webhook's content lives on in its messages (each keeps its raw JSON in `raw`), so the
journal's copy is only needed while it waits, fails or may be inspected. Failed and waiting rows
are never pruned: they are what `wacrm webhooks replay` and the processor still need.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

BATCH = 5_000  # rows per DELETE: short transactions, few locks, the processor never waits long

# The journal's ids grow with its receive time, so the rows old enough are those below the first
# id received after the cut-off: found once per run by walking the primary key from the start,
# which after the first run passes only the few old failed/waiting rows (no index on
# received_at to keep up on the ingest path). Each batch then walks on from the last id it
# deleted. SKIP LOCKED: a row a processor holds is left for the next run.
_EDGE = """
SELECT coalesce(
  (SELECT id FROM webhook_journal WHERE received_at >= %(cutoff)s ORDER BY id LIMIT 1),
  (SELECT max(id) + 1 FROM webhook_journal),
  0
) AS id
"""
_PRUNE = """
WITH old AS (
  SELECT id FROM webhook_journal
  WHERE id > %(after)s AND id < %(edge)s AND status = 'processed'
  ORDER BY id LIMIT %(batch)s
  FOR UPDATE SKIP LOCKED
)
DELETE FROM webhook_journal j USING old WHERE j.id = old.id RETURNING j.id
"""


async def prune_journal(
    conn: AsyncConnection[Any], *, older_than: timedelta, now: datetime, batch: int = BATCH
) -> int:
    """Delete processed journal rows received before `now - older_than`, in batches; return how many."""
    cur = await conn.execute(_EDGE, {"cutoff": now - older_than})
    row = await cur.fetchone()
    edge = row["id"] if row else 0
    after, deleted = 0, 0
    while True:
        async with conn.transaction():
            cur = await conn.execute(_PRUNE, {"after": after, "edge": edge, "batch": batch})
            ids = [row["id"] for row in await cur.fetchall()]
        deleted += len(ids)
        if len(ids) < batch:
            return deleted
        after = max(ids)
