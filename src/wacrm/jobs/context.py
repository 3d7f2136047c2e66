"""What a running job handler may use: the worker's connection pool and the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from wacrm.config import Settings


@dataclass(frozen=True)
class WorkerContext:
    """`pool` for any handler; `short_pool` (when set) for handlers that hold a connection only for
    single statements, never across a network call: few connections, each kept busy."""

    pool: AsyncConnectionPool[AsyncConnection[Any]]
    settings: Settings
    database_url: str
    short_pool: AsyncConnectionPool[AsyncConnection[Any]] | None = None
    concurrency: int = 16  # the worker's --concurrency (features size their own slots by it)

    @property
    def statements(self) -> AsyncConnectionPool[AsyncConnection[Any]]:
        """The short-statement pool, or the general one."""
        return self.short_pool or self.pool


_current: WorkerContext | None = None


def current() -> WorkerContext:
    """The context of the worker running this handler (raises outside a worker)."""
    if _current is None:
        raise RuntimeError("no job worker is running in this process")
    return _current


def install(context: WorkerContext | None) -> None:
    global _current
    _current = context
