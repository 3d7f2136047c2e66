"""The async psycopg connection pool shared by the web app and the workers."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool


async def _configure(conn: AsyncConnection) -> None:
    await conn.set_autocommit(False)


def create_pool(url: str, *, max_size: int = 16, min_size: int = 2, name: str = "wacrm") -> AsyncConnectionPool:
    """A pool that checks connections on checkout, so it recovers after a database restart."""
    return AsyncConnectionPool(
        url,
        min_size=min(min_size, max_size),
        max_size=max_size,
        open=False,
        name=name,
        kwargs={"row_factory": dict_row, "autocommit": False},
        configure=_configure,
        check=AsyncConnectionPool.check_connection,
        reconnect_timeout=3600,
        timeout=10,
    )
