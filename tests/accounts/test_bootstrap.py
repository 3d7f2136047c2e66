"""The first admin, created once when several processes start at once on one database."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg.rows import dict_row

from wacrm.accounts.bootstrap import ensure_admin


async def test_processes_starting_at_once_create_one_admin(db_url: str, settings: Any) -> None:
    conns = [
        await psycopg.AsyncConnection.connect(db_url, autocommit=True, row_factory=dict_row)
        for _ in range(4)
    ]
    try:
        results = await asyncio.gather(*(ensure_admin(c, settings) for c in conns))
        created = [r for r in results if r is not None]
        assert len(created) == 1, results
        cur = await conns[0].execute("SELECT count(*) AS n FROM users WHERE role = 'admin'")
        assert (await cur.fetchone())["n"] == 1  # type: ignore[index]
        assert await ensure_admin(conns[0], settings) is None  # a later start finds it
    finally:
        for c in conns:
            await c.close()
