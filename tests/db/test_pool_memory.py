"""A pooled connection whose server process holds too much memory is replaced (BackendMemoryCap)."""

from __future__ import annotations

import asyncio
from typing import Any

from wacrm.db.pool import BackendMemoryCap, create_pool


async def _pids(pool: Any, uses: int) -> list[int]:
    pids = []
    for _ in range(uses):
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT pg_backend_pid() AS pid")
            pids.append((await cur.fetchone())["pid"])
        await asyncio.sleep(0.05)  # the return (and its check) runs in the pool's worker
    return pids


async def test_a_connection_over_the_limit_is_replaced(db_url: str) -> None:
    pool = create_pool(db_url, max_size=1, min_size=1, memory_mib=1, memory_check_every=2)
    await pool.open(wait=True)
    try:
        pids = await _pids(pool, 4)
    finally:
        await pool.close()
    # every backend holds more than 1 MiB: replaced after its second use, not after its first
    assert pids[0] == pids[1] != pids[2] == pids[3]
    assert isinstance(pool._reset, BackendMemoryCap) and pool._reset.replaced == 2


async def test_a_connection_under_the_limit_stays(db_url: str) -> None:
    pool = create_pool(db_url, max_size=1, min_size=1, memory_mib=512, memory_check_every=1)
    await pool.open(wait=True)
    try:
        pids = await _pids(pool, 3)
    finally:
        await pool.close()
    assert len(set(pids)) == 1


def test_no_limit_no_check(db_url: str) -> None:
    assert create_pool(db_url, memory_mib=0)._reset is None


async def test_a_role_that_cannot_read_the_memory_view_keeps_its_connections(
    db_url: str, sync_conn: Any
) -> None:
    """Without pg_read_all_stats the view is refused: the cap turns itself off (with a warning)
    instead of replacing the connection at every check."""
    from psycopg.conninfo import make_conninfo

    role = "wacrm_no_stats"
    exists = sync_conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    if not exists:
        sync_conn.execute(f"CREATE ROLE {role} LOGIN")
    pool = create_pool(
        make_conninfo(db_url, user=role), max_size=1, min_size=1, memory_mib=1, memory_check_every=1
    )
    await pool.open(wait=True)
    try:
        pids = await _pids(pool, 3)
    finally:
        await pool.close()
    assert len(set(pids)) == 1
    assert isinstance(pool._reset, BackendMemoryCap) and pool._reset.replaced == 0
