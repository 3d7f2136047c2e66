"""Sends that Meta accepted, recorded in group commits.

One statement records every send that finished while the previous record was being written
(wamid and 'sent' on the message, the send 'done', the live event), instead of one statement
(and one round trip) per send.
A send waits for the commit of its batch, so nothing is acknowledged before it is durable.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from wacrm.agents.tables import AgentTables
from wacrm.realtime import events as live

_MESSAGES = """{name} AS (
  UPDATE {messages} m SET wamid = v.wamid,
    status = CASE WHEN m.status IN ('queued', 'sending') THEN 'sent' ELSE m.status END,
    status_at = CASE WHEN m.status IN ('queued', 'sending') THEN now() ELSE m.status_at END
  FROM v WHERE v.agent_id = {agent} AND m.id = v.id
    AND (m.status IN ('queued', 'sending') OR m.wamid IS NULL)
  RETURNING m.id
)"""

_HEAD = """WITH v AS MATERIALIZED (
  SELECT * FROM unnest(%s::bigint[], %s::int[], %s::text[]) AS v(agent_id, id, wamid)
), """

_TAIL = (
    """, s AS (
  UPDATE outbound_sends o SET state = 'done', lease_until = NULL, updated_at = now()
  FROM v WHERE o.agent_id = v.agent_id AND o.message_id = v.id
  RETURNING o.message_id
)
SELECT """
    + live.notify_json_sql("e")
    + " FROM unnest(%s::text[]) AS e"
)


@dataclass
class _Sent:
    tables: AgentTables
    message_id: int
    customer_id: int
    wamid: str
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def batch_statement(batch: list[_Sent]) -> tuple[sql.Composed, tuple[Any, ...]]:
    """The one statement that records `batch` (sends of any agents), and its parameters."""
    tables = {s.tables.agent_id: s.tables for s in batch}
    parts = [
        sql.SQL(_MESSAGES).format(
            name=sql.Identifier(f"m{n}"),
            messages=t.messages,
            agent=sql.Literal(agent_id),
        )
        for n, (agent_id, t) in enumerate(sorted(tables.items()))
    ]
    query = sql.Composed([sql.SQL(_HEAD), sql.SQL(", ").join(parts), sql.SQL(_TAIL)])
    events = [
        live.payload(
            agent_id=s.tables.agent_id,
            kind="status",
            customer_id=s.customer_id,
            message_id=s.message_id,
        )
        for s in batch
    ]
    params = (
        [s.tables.agent_id for s in batch],
        [s.message_id for s in batch],
        [s.wamid for s in batch],
        events,
    )
    return query, params


class Recorder:
    """The group-commit writer of one connection pool (one per worker life and event loop)."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool
        self.pending: list[_Sent] = []
        self.writer: asyncio.Task[None] | None = None

    async def record(
        self, tables: AgentTables, message_id: int, customer_id: int, wamid: str
    ) -> None:
        """Record one accepted send; returns once its batch committed (raises what the batch raised)."""
        sent = _Sent(tables, message_id, customer_id, wamid)
        self.pending.append(sent)
        if self.writer is None or self.writer.done():
            self.writer = asyncio.create_task(self._write())
        await asyncio.shield(sent.done)

    async def _write(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                query, params = batch_statement(batch)
                async with self.pool.connection() as conn:
                    await conn.execute(query, params)
            except Exception as exc:
                # every send of the batch decides on its own (it retries alone)
                for sent in batch:
                    if not sent.done.done():
                        sent.done.set_exception(exc)
                        sent.done.exception()  # retrieved here too: its send may be gone
                continue
            for sent in batch:
                if not sent.done.done():
                    sent.done.set_result(None)


_recorders: weakref.WeakKeyDictionary[AsyncConnectionPool[Any], Recorder] = (
    weakref.WeakKeyDictionary()
)


def for_pool(pool: AsyncConnectionPool[Any]) -> Recorder:
    recorder = _recorders.get(pool)
    if recorder is None:
        recorder = _recorders[pool] = Recorder(pool)
    return recorder
