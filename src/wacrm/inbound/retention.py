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
# id received after the cut-off: found by walking the primary key from the start, which after the
# first pruning passes only the few old failed/waiting rows (no index on received_at to keep up
# on the ingest path). SKIP LOCKED: a row a processor holds is left for the next run.
_PRUNE = """
WITH edge AS (
  SELECT coalesce(
    (SELECT id FROM webhook_journal WHERE received_at >= %(cutoff)s ORDER BY id LIMIT 1),
    (SELECT max(id) + 1 FROM webhook_journal)
  ) AS id
), old AS (
  SELECT j.id FROM webhook_journal j, edge
  WHERE j.id < edge.id AND j.status = 'processed'
  ORDER BY j.id LIMIT %(batch)s
  FOR UPDATE OF j SKIP LOCKED
)
DELETE FROM webhook_journal j USING old WHERE j.id = old.id
"""


async def prune_journal(
    conn: AsyncConnection[Any], *, older_than: timedelta, now: datetime, batch: int = BATCH
) -> int:
    """Delete processed journal rows received before `now - older_than`, in batches; return how many."""
    cutoff = now - older_than
    deleted = 0
    while True:
        async with conn.transaction():
            cur = await conn.execute(_PRUNE, {"cutoff": cutoff, "batch": batch})
        deleted += cur.rowcount
        if cur.rowcount < batch:
            return deleted
