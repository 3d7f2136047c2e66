"""Publishing live events: pg_notify on `wacrm_events` (delivered at commit, to every process)."""

from __future__ import annotations

from typing import Any

import orjson
from psycopg import AsyncConnection

CHANNEL = "wacrm_events"
KINDS = frozenset({"message", "status", "customer", "order"})


def payload(
    *,
    agent_id: int,
    kind: str,
    customer_id: int,
    message_id: int | None = None,
    order_id: int | None = None,
) -> str:
    """The JSON text of one event, as docs/architecture.md defines it."""
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
