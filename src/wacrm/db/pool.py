"""The async psycopg connection pool shared by the web app and the workers."""

from __future__ import annotations

import logging
import select
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from psycopg import AsyncConnection, errors
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

Check = Callable[[AsyncConnection[Any]], Awaitable[None]]
MAX_LIFETIME_SECONDS = 600.0
MEMORY_CHECK_EVERY = 25  # returns of a connection between two looks at its backend's memory
_BACKEND_MEMORY = "SELECT sum(total_bytes)::bigint AS used FROM pg_backend_memory_contexts"


class BackendMemoryHigh(Exception):
    """Raised by BackendMemoryCap: the pool closes the connection and opens another."""


class BackendMemoryCap:
    """A pool's `reset`: every `every` returns of a connection, its server process's memory is read
    (`pg_backend_memory_contexts`, a few ms); over `mib` MiB the connection is replaced.

    PostgreSQL keeps the relation caches, compiled trigger functions and plans of every table a
    session has touched for the session's life (~0.2 MiB per agent read, up to ~0.9 MiB per agent
    written through its triggers): a pooled connection serving 1,000 agents would hold them all.
    """

    def __init__(self, mib: int, every: int = MEMORY_CHECK_EVERY) -> None:
        self.limit = mib * 2**20
        self.every = every
        self.replaced = 0
        self.readable = True  # False once the role was refused the memory view
        self._returns: weakref.WeakKeyDictionary[AsyncConnection[Any], int] = (
            weakref.WeakKeyDictionary()
        )

    async def __call__(self, conn: AsyncConnection[Any]) -> None:
        if not self.readable:
            return
        returns = self._returns.get(conn, 0) + 1
        self._returns[conn] = returns % self.every
        if returns < self.every:
            return
        try:
            cur = await conn.execute(_BACKEND_MEMORY)
        except errors.InsufficientPrivilege:
            # the view needs pg_read_all_stats: without it the cap is off (not a replaced
            # connection every `every` returns); max_lifetime still recycles connections
            self.readable = False
            log.warning(
                "WACRM_DB_BACKEND_MEMORY_MIB is not applied: the database role cannot read"
                " pg_backend_memory_contexts (GRANT pg_read_all_stats TO <role>)"
            )
            return
        row = await cur.fetchone()
        used = int((row["used"] if isinstance(row, dict) else row[0]) or 0) if row else 0
        if used > self.limit:
            self.replaced += 1
            raise BackendMemoryHigh(
                f"its server process holds {used / 2**20:.0f} MiB of caches, over"
                f" {self.limit / 2**20:.0f} MiB (WACRM_DB_BACKEND_MEMORY_MIB): replaced"
            )


async def check_if_signalled(conn: AsyncConnection[Any]) -> None:
    """A checkout check without a round trip while the connection is quiet.

    An idle connection that was returned in a clean state has nothing to read: when the server
    ends it (a restart, a terminated backend) its socket becomes readable (the FATAL message, then
    end of file). Only then is the full check (an empty query) run, which raises for a dead
    connection so that the pool replaces it, without a round trip per checkout.
    """
    try:
        fd = conn.pgconn.socket
        readable = bool(select.select([fd], [], [], 0)[0])
    except Exception:  # closed or broken: let the full check decide (and raise)
        readable = True
    if readable:
        await AsyncConnectionPool.check_connection(conn)


def connect_kwargs(pooled: bool) -> dict[str, Any]:
    """Connection options for DATABASE_URL: behind a transaction-mode pooler (PgBouncer,
    `settings.pooled`) no server-side prepared statements, since the next transaction may run on
    another server session (`prepared statement "_pg3_0" does not exist`)."""
    return {"prepare_threshold": None} if pooled else {}


def create_pool(
    url: str,
    *,
    max_size: int = 16,
    min_size: int = 2,
    name: str = "wacrm",
    check: Check = AsyncConnectionPool.check_connection,
    pooled: bool = False,
    memory_mib: int = 0,
    memory_check_every: int = MEMORY_CHECK_EVERY,
) -> AsyncConnectionPool:
    """A pool of autocommit connections (dict rows) checked on checkout, so it survives a database restart.

    Autocommit is the rule: a unit of work opens `async with conn.transaction():` explicitly, which
    also lets pgqueuer enqueue a job in the same transaction as the row it serves. `check` runs
    on every checkout (default: an empty query; `check_if_signalled` skips it while the socket
    is quiet). `pooled` (`settings.pooled`) turns prepared statements off (`connect_kwargs`).
    A connection whose server process holds more than `memory_mib` MiB
    (`settings.db_backend_memory_mib`; 0: no limit), looked at every `memory_check_every` returns,
    is replaced (`BackendMemoryCap`).
    """
    return AsyncConnectionPool(
        url,
        min_size=min(min_size, max_size),
        max_size=max_size,
        open=False,
        name=name,
        kwargs={"row_factory": dict_row, "autocommit": True, **connect_kwargs(pooled)},
        check=check,
        reset=BackendMemoryCap(memory_mib, memory_check_every) if memory_mib else None,
        reconnect_timeout=3600,
        timeout=10,
        # PostgreSQL keeps the catalogue cache of every table a session touched
        # (docs/performance.md, "Many agents"): recycle connections every 10 minutes so that a
        # pool serving thousands of agents does not grow without bound
        max_lifetime=MAX_LIFETIME_SECONDS,
    )


@asynccontextmanager
async def dedicated_connection(
    pool: AsyncConnectionPool[Any],
) -> AsyncIterator[AsyncConnection[Any]]:
    """A connection of its own, like the pool's (autocommit, dict rows), closed at the end.

    For work that reads many agents' tables one after another (the dashboard's recount, exports
    across agents): the backend's caches of every table it touched end with it instead of
    staying in a pooled connection for up to MAX_LIFETIME_SECONDS.
    """
    conninfo, kwargs = pool.conninfo, pool.kwargs  # create_pool gives both as values
    assert isinstance(conninfo, str) and isinstance(kwargs, dict)
    conn = await AsyncConnection.connect(conninfo, **kwargs)
    try:
        yield conn
    finally:
        await conn.close()
