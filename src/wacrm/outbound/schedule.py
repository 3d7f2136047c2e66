"""When a send may start: every number's sends get a slot when they are queued, at its rate.

Without this, one number's broadcast filled every worker slot with sends sleeping for that
number's limiter, and the other numbers' sends (and an agent's reply) waited behind it. Now:

- Each number has two schedules, buckets in `outbound_rate_buckets` at the number's limiter rate:
  replies (`i:<phone_number_id>`, a small burst goes at once) and bulk sends (`b:<...>`, the
  `bulk` flag of the API). A send takes its slot in one of them in the queueing transaction and
  waits in `outbound_sends` as 'scheduled' with `due_at` = its slot.
- Workers claim the due sends (`wacrm.outbound.dispatch`), replies before bulk sends, each in
  slot order, so the numbers' sends reach the workers interleaved.
- The claim still takes the number's real limiter slot (`n:` bucket): that bucket stays the only
  authority for Meta's limit. A reply is claimed before the due bulk sends and finds that bucket
  at most a moment ahead, since bulk sends only reach it when their slot comes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from psycopg import AsyncConnection

from wacrm.agents.tables import AgentTables
from wacrm.outbound import limiter

NEAR = 0.05  # seconds: a send due this soon is claimed now (it waits for its limiter slot)
REPLY_BURST = 10.0  # replies queued together that go at once before their schedule spaces them

# The slot of a send in its number's schedule (no slot when the agent has no number yet: the
# claim then fails it as not configured). Same number row as the send's claim.
_TAKE_SLOT = """
SELECT CASE WHEN coalesce(w.phone_number_id, '') <> '' THEN wacrm_take_token(
    %(schedule)s || w.phone_number_id, coalesce(nullif(w.messages_per_second, 0), 80) * %(headroom)s,
    %(burst)s) END AS tokens,
  coalesce(nullif(w.messages_per_second, 0), 80) * %(headroom)s AS rate
FROM agents a JOIN whatsapp_configuration w ON w.user_id = a.user_id
WHERE a.id = %(agent)s LIMIT 1
"""

_UPSERT = """
INSERT INTO outbound_sends (agent_id, message_id, state, due_at, bulk)
VALUES (%(agent)s, %(id)s, 'scheduled', clock_timestamp() + %(wait)s, %(bulk)s)
ON CONFLICT (agent_id, message_id) DO UPDATE SET state = 'scheduled', attempts = 0,
  lease_until = NULL, pair_slot_at = NULL, job_id = NULL, claimed_by = NULL,
  due_at = EXCLUDED.due_at, bulk = EXCLUDED.bulk, updated_at = now()
"""

# The earliest slot of a scheduled send (one index range per kind: replies, bulk sends)
_NEXT_DUE = """
SELECT extract(epoch FROM least(
  (SELECT min(due_at) FROM outbound_sends WHERE state = 'scheduled' AND NOT bulk),
  (SELECT min(due_at) FROM outbound_sends WHERE state = 'scheduled' AND bulk)
) - clock_timestamp()) AS seconds
"""


async def schedule_send(
    conn: AsyncConnection[Any], *, tables: AgentTables, message_id: int, bulk: bool = False
) -> None:
    """(Re)queue the send of a message in the caller's transaction, at its slot in its number's
    schedule (a worker claims it when the slot comes)."""
    cur = await conn.execute(
        _TAKE_SLOT,
        {
            "schedule": "b:" if bulk else "i:",
            "headroom": float(limiter.HEADROOM),
            "burst": 1.0 if bulk else REPLY_BURST,
            "agent": tables.agent_id,
        },
    )
    slot = await cur.fetchone()
    wait = 0.0
    if slot is not None and slot["tokens"] is not None:
        wait = limiter.wait_for(float(slot["tokens"]), float(slot["rate"]))
    await conn.execute(
        _UPSERT,
        {
            "agent": tables.agent_id,
            "id": message_id,
            "wait": timedelta(seconds=wait),
            "bulk": bulk,
        },
    )


_TAKE_SLOTS = """
SELECT t.tokens, t.rate FROM (
  SELECT CASE WHEN coalesce(w.phone_number_id, '') <> '' THEN wacrm_take_token(
      %(schedule)s || w.phone_number_id, coalesce(nullif(w.messages_per_second, 0), 80) * %(headroom)s,
      1.0) END AS tokens,
    coalesce(nullif(w.messages_per_second, 0), 80) * %(headroom)s AS rate, n
  FROM agents a JOIN whatsapp_configuration w ON w.user_id = a.user_id,
    generate_series(1, %(count)s) n
  WHERE a.id = %(agent)s ORDER BY n) t
"""

_UPSERT_MANY = """
INSERT INTO outbound_sends (agent_id, message_id, state, due_at, bulk)
SELECT %(agent)s, m, 'scheduled', clock_timestamp() + make_interval(secs => w), true
FROM unnest(%(ids)s::int[], %(waits)s::float8[]) AS u(m, w)
ON CONFLICT (agent_id, message_id) DO UPDATE SET state = 'scheduled', attempts = 0,
  lease_until = NULL, pair_slot_at = NULL, job_id = NULL, claimed_by = NULL,
  due_at = EXCLUDED.due_at, bulk = true, updated_at = now()
"""


async def schedule_bulk_sends(
    conn: AsyncConnection[Any], *, tables: AgentTables, message_ids: list[int]
) -> None:
    """`schedule_send(bulk=True)` for many messages in order, in a few statements (a broadcast's
    chunk): their slots in the number's bulk schedule."""
    if not message_ids:
        return
    cur = await conn.execute(
        _TAKE_SLOTS,
        {
            "schedule": "b:",
            "headroom": float(limiter.HEADROOM),
            "count": len(message_ids),
            "agent": tables.agent_id,
        },
    )
    slots = await cur.fetchall()
    waits = [
        limiter.wait_for(float(s["tokens"]), float(s["rate"])) if s["tokens"] is not None else 0.0
        for s in slots
    ] or [0.0] * len(message_ids)
    await conn.execute(_UPSERT_MANY, {"agent": tables.agent_id, "ids": message_ids, "waits": waits})


async def seconds_to_next(conn: AsyncConnection[Any]) -> float | None:
    """Seconds until the earliest scheduled send is due (negative when overdue), None when none."""
    cur = await conn.execute(_NEXT_DUE)
    row = await cur.fetchone()
    return None if row is None or row["seconds"] is None else float(row["seconds"])
