"""The claim of due sends: many per round trip, replies before bulk sends, each in slot order.

Two statements per claim, whatever the number of sends: the first takes the due rows of
`outbound_sends` (`SKIP LOCKED`, so concurrent workers never take the same send) and their lease;
the second, one CTE per agent touched, marks their messages 'sending', reads what the sends need
(message, recipient, number) and takes the limiter's slots (the customer's pair slot unless one
was reserved earlier; the number's slot unless the pair slot is in the future, when it is taken
after waiting for the pair slot, as `limiter` does alone). Keys and rates as in `limiter`.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from psycopg import AsyncConnection, sql

from wacrm.agents.tables import AgentTables
from wacrm.outbound import limiter

# Due replies and due bulk sends, each read in slot order from its own index range, the replies
# first; the lease on the ones taken. A send whose lease expired is the sweeper's (tasks.py).
_TAKE = """
WITH replies AS MATERIALIZED (
  SELECT agent_id, message_id, due_at, bulk FROM outbound_sends
  WHERE state = 'scheduled' AND NOT bulk AND due_at <= clock_timestamp() + %(near)s
  ORDER BY due_at, message_id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), broadcasts AS MATERIALIZED (
  SELECT agent_id, message_id, due_at, bulk FROM outbound_sends
  WHERE state = 'scheduled' AND bulk AND due_at <= clock_timestamp() + %(near)s
  ORDER BY due_at, message_id
  LIMIT greatest(0, %(limit)s - (SELECT count(*) FROM replies)) FOR UPDATE SKIP LOCKED
)
UPDATE outbound_sends s SET state = 'sending', attempts = s.attempts + 1,
  lease_until = now() + %(lease)s, claimed_by = %(holder)s, updated_at = now()
FROM (SELECT * FROM replies UNION ALL SELECT * FROM broadcasts) p
  JOIN agents a ON a.id = p.agent_id
WHERE s.agent_id = p.agent_id AND s.message_id = p.message_id
RETURNING s.agent_id, a.agent_prefix, s.message_id, s.attempts, s.pair_slot_at, s.bulk, s.due_at
"""

_HEAD = """WITH v AS MATERIALIZED (
  SELECT * FROM unnest(%(agents)s::bigint[], %(prefixes)s::text[], %(ids)s::int[],
    %(attempts)s::int[], %(pair_slots)s::timestamptz[], %(order)s::int[])
    AS v(agent_id, agent_prefix, message_id, attempts, pair_slot_at, ord)
)"""

# per agent: its messages marked 'sending', and what its sends need (read as they were before)
_AGENT = """, {mark} AS (
  UPDATE {messages} m SET status = 'sending', status_at = now()
  FROM v WHERE v.agent_id = {agent} AND m.id = v.message_id AND m.status IN ('queued', 'sending')
  RETURNING m.id
), {read} AS (
  SELECT v.*, m.id, m.customer_id, m.payload, m.context_wamid,
    coalesce(nullif(c.phone, ''), nullif(c.bsuid, '')) AS recipient
  FROM v LEFT JOIN {messages} m ON m.id = v.message_id
    LEFT JOIN {customers} c ON c.id = m.customer_id
  WHERE v.agent_id = {agent}
)"""

_TAIL = """, t AS (
  SELECT r.*, w.id AS config_id, w.phone_number_id, w.business_account_id, w.api_key,
    w.is_active, w.messages_per_second,
    (r.id IS NOT NULL AND coalesce(w.is_active, false) AND coalesce(w.phone_number_id, '') <> ''
      AND w.api_key IS NOT NULL AND r.recipient IS NOT NULL) AS sendable
  FROM ({reads}) r
  LEFT JOIN LATERAL (
    SELECT w.* FROM agents a JOIN whatsapp_configuration w ON w.user_id = a.user_id
    WHERE a.id = r.agent_id LIMIT 1
  ) w ON true
), p AS MATERIALIZED (
  SELECT t.*, CASE WHEN t.sendable AND t.pair_slot_at IS NULL THEN wacrm_take_token(
      'p:' || t.phone_number_id || ':' || t.recipient, %(pair_rate)s, %(pair_burst)s) END AS pair_tokens
  FROM (SELECT * FROM t ORDER BY ord) t
)
, n AS MATERIALIZED (
  SELECT p.*, CASE WHEN p.sendable AND (p.pair_slot_at IS NOT NULL OR p.pair_tokens >= 0)
      THEN wacrm_take_token('n:' || p.phone_number_id,
        coalesce(nullif(p.messages_per_second, 0), 80) * %(headroom)s, 1) END AS number_tokens,
    clock_timestamp() AS number_taken_at
  FROM (SELECT * FROM p ORDER BY ord) p
)
SELECT n.*, extract(epoch FROM clock_timestamp() - n.number_taken_at)::float8 AS number_taken_ago
FROM n ORDER BY ord
"""


def read_statement(prefixes: dict[int, str]) -> sql.Composed:
    """The second statement of a claim, for the sends of these agents (id -> table prefix)."""
    parts: list[sql.Composable] = [sql.SQL(_HEAD)]
    reads = []
    for n, (agent_id, prefix) in enumerate(sorted(prefixes.items())):
        tables = AgentTables(agent_id, prefix)
        read = sql.Identifier(f"read{n}")
        parts.append(
            sql.SQL(_AGENT).format(
                mark=sql.Identifier(f"mark{n}"),
                read=read,
                messages=tables.messages,
                customers=tables.customers,
                agent=sql.Literal(agent_id),
            )
        )
        reads.append(sql.SQL("SELECT * FROM {}").format(read))
    parts.append(sql.SQL(_TAIL).format(reads=sql.SQL(" UNION ALL ").join(reads)))
    return sql.Composed(parts)


async def claim_due(
    conn: AsyncConnection[Any], *, limit: int, holder: str, lease: timedelta, near: timedelta
) -> list[dict[str, Any]]:
    """Claim up to `limit` due sends for `holder` (lease, 'sending', limiter slots); their rows in
    claim order (replies first, then slot order). A row's `id` is None when its message is gone;
    `number_taken_ago` (seconds before the answer) and `received` (monotonic) date its number slot."""
    if limit <= 0:
        return []
    cur = await conn.execute(
        _TAKE, {"near": near, "limit": limit, "lease": lease, "holder": holder}
    )
    taken = sorted(await cur.fetchall(), key=lambda r: (r["bulk"], r["due_at"], r["message_id"]))
    if not taken:
        return []
    cur = await conn.execute(
        read_statement({r["agent_id"]: r["agent_prefix"] for r in taken}),
        {
            "agents": [r["agent_id"] for r in taken],
            "prefixes": [r["agent_prefix"] for r in taken],
            "ids": [r["message_id"] for r in taken],
            "attempts": [r["attempts"] for r in taken],
            "pair_slots": [r["pair_slot_at"] for r in taken],
            "order": list(range(len(taken))),
            "pair_rate": float(limiter.PAIR_RATE),
            "pair_burst": float(limiter.PAIR_BURST),
            "headroom": float(limiter.HEADROOM),
        },
    )
    rows = await cur.fetchall()
    received = time.monotonic()
    return [{**r, "received": received} for r in rows]
