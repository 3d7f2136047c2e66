"""The async psycopg connection pool shared by the web app and the workers."""

from __future__ import annotations

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool


def create_pool(
    url: str, *, max_size: int = 16, min_size: int = 2, name: str = "wacrm"
) -> AsyncConnectionPool:
    """A pool of autocommit connections (dict rows) checked on checkout, so it survives a database restart.

    Autocommit is the rule: a unit of work opens `async with conn.transaction():` explicitly, which
    also lets pgqueuer enqueue a job in the same transaction as the row it serves.
    """
    return AsyncConnectionPool(
        url,
        min_size=min(min_size, max_size),
        max_size=max_size,
        open=False,
        name=name,
        kwargs={"row_factory": dict_row, "autocommit": True},
        check=AsyncConnectionPool.check_connection,
        reconnect_timeout=3600,
        timeout=10,
    )
