"""Enqueueing jobs on the caller's connection, so they commit (or roll back) with its transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from pgqueuer.db import PsycopgDriver
from pgqueuer.queries import Queries
from psycopg import AsyncConnection


async def enqueue(
    conn: AsyncConnection[Any],
    entrypoint: str,
    payload: dict[str, Any],
    *,
    execute_after: timedelta | None = None,
    priority: int = 0,
) -> int:
    """Queue one job on `conn` (an autocommit connection, usually inside `conn.transaction()`); return its id."""
    ids = await Queries(PsycopgDriver(conn)).enqueue(
        entrypoint, orjson.dumps(payload), priority, execute_after
    )
    return int(ids[0])
