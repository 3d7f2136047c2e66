"""The worker pool's checkout check: no round trip while a connection is quiet, a full check once
the server has ended it (the pool then hands out a working connection)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from wacrm.db.pool import check_if_signalled, create_pool


async def last_query(admin: Any, pid: int) -> str:
    cur = await admin.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,))
    row = await cur.fetchone()
    return str(row[0]) if row else ""


@pytest.mark.parametrize("check", [check_if_signalled, AsyncConnectionPool.check_connection])
async def test_quiet_connection_is_not_queried_and_a_terminated_one_is_replaced(
    db_url: str, check: Any
) -> None:
    pool = create_pool(db_url, max_size=1, min_size=1, check=check)
    await pool.open(wait=True)
    admin = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
    try:
        async with pool.connection() as conn:
            pid = (await (await conn.execute("SELECT pg_backend_pid() AS pid")).fetchone())["pid"]
        async with pool.connection():  # the same connection, checked out again
            seen = await last_query(admin, pid)
        if check is check_if_signalled:
            assert seen == "SELECT pg_backend_pid() AS pid"  # no round trip for the check
        else:
            assert seen == ""  # the default check's empty query
        await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(200):  # until the backend is gone (its FATAL message is on the socket)
            cur = await admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))
            if await cur.fetchone() is None:
                break
        async with pool.connection() as conn:
            row = await (await conn.execute("SELECT pg_backend_pid() AS pid")).fetchone()
            assert row["pid"] != pid
    finally:
        await admin.close()
        await pool.close()
