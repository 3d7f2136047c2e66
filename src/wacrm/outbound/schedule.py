"""When a send may start: every number's sends get a slot when they are queued, at its rate.

Without this, one number's broadcast filled every worker slot with sends sleeping for that
number's limiter, and the other numbers' sends (and an agent's reply) waited behind it. Now:

- Each number has two schedules, buckets in `outbound_rate_buckets` at the number's limiter rate:
  replies (`i:<phone_number_id>`, a small burst goes at once) and bulk sends (`b:<...>`, the
  `bulk` flag of the API). A send takes its slot in one of them in the queueing transaction.
- A send whose slot is at most `NEAR` seconds away becomes its pgqueuer job at once (priority
  `REPLY_PRIORITY` or `BULK_PRIORITY`); a later one waits in `outbound_sends` as 'scheduled' with
  `due_at` = its slot, and `release_due` (a periodic task of every worker) turns the due ones
  into jobs, in slot order. pgqueuer only ever holds sends whose time has come, so its dequeue
  never walks a backlog of future jobs, and the numbers' sends reach the workers interleaved.
- The send job still takes the number's real limiter slot (`n:` bucket) when it claims the send:
  that bucket stays the only authority for Meta's limit. A reply (priority 10, due at once) is
  claimed before the due bulk sends and finds that bucket at most a moment ahead, since bulk
  sends only reach it when their slot comes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from psycopg import AsyncConnection

from wacrm.agents.tables import AgentTables
from wacrm.jobs import enqueue
from wacrm.outbound import limiter

SEND_JOB = "outbound.send"
REPLY_PRIORITY = 10
BULK_PRIORITY = 0
NEAR = 0.05  # seconds: a send due this soon becomes a job at once
REPLY_BURST = 10.0  # replies queued together that go at once before their schedule spaces them
RELEASE_BATCH = 200  # a release tops pgqueuer up to this many due send jobs (concurrent releases of
# several workers may each count the same waiting jobs: up to workers x this, harmless)

# The slot of a send in its number's schedule (no slot when the agent has no number yet: the
# send job then fails it as not configured). Same number row as the send's claim.
_TAKE_SLOT = """
SELECT CASE WHEN coalesce(w.phone_number_id, '') <> '' THEN wacrm_take_token(
    %(schedule)s || w.phone_number_id, coalesce(nullif(w.messages_per_second, 0), 80) * %(headroom)s,
    %(burst)s) END AS tokens,
  coalesce(nullif(w.messages_per_second, 0), 80) * %(headroom)s AS rate
FROM agents a JOIN whatsapp_configuration w ON w.user_id = a.user_id
WHERE a.id = %(agent)s LIMIT 1
"""

_UPSERT = """
INSERT INTO outbound_sends (agent_id, message_id, job_id, state, due_at, bulk)
VALUES (%(agent)s, %(id)s, %(job)s, %(state)s, clock_timestamp() + %(wait)s, %(bulk)s)
ON CONFLICT (agent_id, message_id) DO UPDATE SET state = EXCLUDED.state, attempts = 0,
  lease_until = NULL, pair_slot_at = NULL, job_id = EXCLUDED.job_id, due_at = EXCLUDED.due_at,
  bulk = EXCLUDED.bulk, updated_at = now()
"""

# Due sends become 'queued' with their jobs, earliest slot first, as long as fewer than
# RELEASE_BATCH send jobs are waiting in pgqueuer (when the workers are behind, the backlog waits
# here, in slot order, and pgqueuer's dequeue stays small). In ONE statement: a release runs
# every 25 ms while sends are due. The job rows mirror pgqueuer 1.6's enqueue statement (the
# job, id from its sequence, and its 'queued' log row; migration 0004 owns these tables, and a
# pgqueuer upgrade is checked against them); the payload is what `schedule_send` enqueues.
_RELEASE = """
WITH picked AS MATERIALIZED (
  SELECT s.agent_id, s.message_id, s.bulk, s.due_at FROM outbound_sends s
  WHERE s.state = 'scheduled' AND s.due_at <= clock_timestamp() + %(near)s
  ORDER BY s.due_at, s.message_id
  LIMIT greatest(0, %(limit)s - (SELECT count(*) FROM (
    SELECT FROM pgqueuer WHERE entrypoint = %(entrypoint)s AND status = 'queued'
      AND execute_after <= now() LIMIT %(limit)s) waiting))
  FOR UPDATE SKIP LOCKED
), numbered AS MATERIALIZED (
  SELECT p.*, a.agent_prefix, nextval(pg_get_serial_sequence('pgqueuer', 'id')) AS job_id
  FROM (SELECT * FROM picked ORDER BY due_at, message_id) p JOIN agents a ON a.id = p.agent_id
), jobs AS (
  INSERT INTO pgqueuer (id, priority, entrypoint, payload, execute_after, status)
  SELECT job_id, CASE WHEN bulk THEN %(bulk_priority)s ELSE %(reply_priority)s END, %(entrypoint)s,
    convert_to(json_build_object('agent_id', agent_id, 'prefix', agent_prefix,
      'message_id', message_id)::text, 'UTF8'), now(), 'queued'
  FROM numbered
  RETURNING id, priority
), logged AS (
  INSERT INTO pgqueuer_log (job_id, status, entrypoint, priority)
  SELECT id, 'queued', %(entrypoint)s, priority FROM jobs
), released AS (
  UPDATE outbound_sends s SET state = 'queued', job_id = n.job_id, updated_at = now()
  FROM numbered n WHERE s.agent_id = n.agent_id AND s.message_id = n.message_id
  RETURNING s.message_id
)
SELECT count(*) AS released FROM released
"""

_NEXT_DUE = """
SELECT extract(epoch FROM min(due_at) - clock_timestamp()) AS seconds
FROM outbound_sends WHERE state = 'scheduled'
"""


def priority(bulk: bool) -> int:
    return BULK_PRIORITY if bulk else REPLY_PRIORITY


def job_payload(agent_id: int, prefix: str, message_id: int) -> dict[str, Any]:
    return {"agent_id": agent_id, "prefix": prefix, "message_id": message_id}


async def schedule_send(
    conn: AsyncConnection[Any], *, tables: AgentTables, message_id: int, bulk: bool = False
) -> int | None:
    """(Re)queue the send of a message in the caller's transaction, at its slot in its number's
    schedule; return the job id, or None when the send waits for its slot as 'scheduled'."""
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
    job_id = None
    if wait <= NEAR:
        job_id = await enqueue(
            conn,
            SEND_JOB,
            job_payload(tables.agent_id, tables.prefix, message_id),
            priority=priority(bulk),
        )
    await conn.execute(
        _UPSERT,
        {
            "agent": tables.agent_id,
            "id": message_id,
            "job": job_id,
            "state": "queued" if job_id is not None else "scheduled",
            "wait": timedelta(seconds=wait),
            "bulk": bulk,
        },
    )
    return job_id


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
INSERT INTO outbound_sends (agent_id, message_id, job_id, state, due_at, bulk)
SELECT %(agent)s, m, j, CASE WHEN j IS NULL THEN 'scheduled' ELSE 'queued' END,
  clock_timestamp() + make_interval(secs => w), true
FROM unnest(%(ids)s::int[], %(jobs)s::bigint[], %(waits)s::float8[]) AS u(m, j, w)
ON CONFLICT (agent_id, message_id) DO UPDATE SET state = EXCLUDED.state, attempts = 0,
  lease_until = NULL, pair_slot_at = NULL, job_id = EXCLUDED.job_id, due_at = EXCLUDED.due_at,
  bulk = true, updated_at = now()
"""


async def schedule_bulk_sends(
    conn: AsyncConnection[Any], *, tables: AgentTables, message_ids: list[int]
) -> None:
    """`schedule_send(bulk=True)` for many messages in order, in a few statements (a broadcast's
    chunk): their slots in the number's bulk schedule, jobs for the ones due now."""
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
    jobs: list[int | None] = []
    for message_id, wait in zip(message_ids, waits, strict=True):
        near = wait <= NEAR
        job = job_payload(tables.agent_id, tables.prefix, message_id)
        jobs.append(await enqueue(conn, SEND_JOB, job, priority=BULK_PRIORITY) if near else None)
    await conn.execute(
        _UPSERT_MANY,
        {"agent": tables.agent_id, "ids": message_ids, "jobs": jobs, "waits": waits},
    )


async def release_due(conn: AsyncConnection[Any]) -> int:
    """Turn the scheduled sends whose slot has come into jobs (one statement); return how many."""
    cur = await conn.execute(
        _RELEASE,
        {
            "near": timedelta(seconds=NEAR),
            "limit": RELEASE_BATCH,
            "bulk_priority": BULK_PRIORITY,
            "reply_priority": REPLY_PRIORITY,
            "entrypoint": SEND_JOB,
        },
    )
    row = await cur.fetchone()
    return int(row["released"]) if row else 0


async def seconds_to_next(conn: AsyncConnection[Any]) -> float | None:
    """Seconds until the earliest scheduled send is due (negative when overdue), None when none."""
    cur = await conn.execute(_NEXT_DUE)
    row = await cur.fetchone()
    return None if row is None or row["seconds"] is None else float(row["seconds"])
