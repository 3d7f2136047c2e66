"""Live events, the one place of their contract: `notify()` from Python, `notify_sql()` in statements.

An event is a `pg_notify` on `CHANNEL` (delivered at commit, to every process; `wacrm.realtime.hub`
fans it out to SSE) with the JSON `{"agent_id", "kind", "customer_id", "message_id", "order_id"}`.
"""

from __future__ import annotations

from typing import Any

import orjson
from psycopg import AsyncConnection

CHANNEL = "wacrm_events"
KINDS = frozenset({"message", "status", "customer", "order", "conversation"})


def payload(
    *,
    agent_id: int,
    kind: str,
    customer_id: int,
    message_id: int | None = None,
    order_id: int | None = None,
) -> str:
    """The JSON text of one event."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}: use one of {sorted(KINDS)}")
    return orjson.dumps(
        {
            "agent_id": agent_id,
            "kind": kind,
            "customer_id": customer_id,
            "message_id": message_id,
            "order_id": order_id,
        }
    ).decode()


async def notify(
    conn: AsyncConnection[Any],
    *,
    agent_id: int,
    kind: str,
    customer_id: int,
    message_id: int | None = None,
    order_id: int | None = None,
) -> None:
    """Send one event (inside the caller's transaction it is delivered only if that commits)."""
    text = payload(
        agent_id=agent_id,
        kind=kind,
        customer_id=customer_id,
        message_id=message_id,
        order_id=order_id,
    )
    await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, text))


def notify_sql(
    *,
    agent_id: str,
    kind: str,
    customer_id: str,
    message_id: str = "NULL::bigint",
    order_id: str = "NULL::bigint",
) -> str:
    """The SQL expression sending one event, from SQL expressions (a placeholder, a column, a literal).

    `kind` is an SQL expression too: `"'message'"` for a constant, `"ev.kind"` for a column.
    """
    return (
        f"pg_notify('{CHANNEL}', json_build_object('agent_id', {agent_id}::bigint,"
        f" 'kind', {kind}, 'customer_id', {customer_id}, 'message_id', {message_id},"
        f" 'order_id', {order_id})::text)"
    )


def notify_json_sql(events: str) -> str:
    """The SQL expression sending an event already written as JSON text (`payload()`) by `events`."""
    return f"pg_notify('{CHANNEL}', {events})"
