"""The job worker: pgqueuer's QueueManager over one LISTEN connection, handlers over a pool."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import orjson
import psycopg
from pgqueuer.db import PsycopgDriver
from pgqueuer.executors import DatabaseRetryEntrypointExecutor
from pgqueuer.models import Job
from pgqueuer.qm import QueueManager
from pgqueuer.queries import Queries
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from wacrm.config import Settings, get_settings
from wacrm.db.pool import check_if_signalled, connect_kwargs, create_pool
from wacrm.jobs import context
from wacrm.jobs.registry import (
    ENTRYPOINTS,
    PERIODICS,
    STOP_HOOKS,
    EntrypointSpec,
    PeriodicSpec,
    reset_attempt,
    set_attempt,
)

log = logging.getLogger(__name__)

# Database connections of a worker's handlers: the general pool (media downloads, at most 8 at
# once, hold theirs across the download) and the short-statement pool. A send holds a connection
# only for its claim and its record (one statement each), not while it waits for the limiter or
# for Meta; few short connections keep PostgreSQL's backends warm (docs/performance.md,
# "Measurements behind the code").
POOL_MAX = 16
SHORT_POOL_MAX = 6


class _SplitDriver(PsycopgDriver):
    """pgqueuer's driver with LISTEN on one connection and its queries on another.

    pgqueuer's notification watcher holds its connection for up to 1 s waiting for a NOTIFY; on
    one shared connection every dequeue, heartbeat and status flush would wait behind it.
    """

    def __init__(
        self, listen: psycopg.AsyncConnection[Any], queries: psycopg.AsyncConnection[Any]
    ) -> None:
        super().__init__(listen)
        self._queries = queries

    async def fetch(self, query: str, *args: object) -> list[dict[str, object]]:
        from psycopg import AsyncRawCursor
        from psycopg.rows import dict_row

        cursor = AsyncRawCursor(self._queries, row_factory=dict_row)
        await cursor.execute(query, args or None)
        return await cursor.fetchall()

    async def execute(self, query: str, *args: object) -> str:
        from psycopg import AsyncRawCursor

        cursor = AsyncRawCursor(self._queries)
        await cursor.execute(query, args or None)
        return cursor.statusmessage or ""


def _wrap(spec: EntrypointSpec) -> Any:
    async def run(job: Job) -> None:
        payload = orjson.loads(job.payload) if job.payload else {}
        token = set_attempt(job.attempts)
        try:
            await spec.handler(payload)
        finally:
            reset_attempt(token)

    run.__qualname__ = f"job:{spec.name}"
    return run


def _register(qm: QueueManager, spec: EntrypointSpec) -> None:
    if spec.max_attempts > 0:
        max_attempts = spec.max_attempts

        def factory(params: Any) -> Any:
            return DatabaseRetryEntrypointExecutor(params, max_attempts=max_attempts)

        qm.entrypoint(
            spec.name, concurrency_limit=spec.concurrency_limit, executor_factory=factory
        )(_wrap(spec))
    else:
        qm.entrypoint(spec.name, concurrency_limit=spec.concurrency_limit)(_wrap(spec))


async def _run_periodic(spec: PeriodicSpec, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await spec.func()
        except Exception:
            log.exception("periodic task %s failed", spec.name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), spec.every.total_seconds())


async def _run_stop_hooks() -> None:
    """The features' clean-up (`@on_stop`), each on its own: one failing does not skip the others."""
    for name, hook in STOP_HOOKS.items():
        try:
            await hook()
        except Exception:
            log.exception("worker stop hook %s failed", name)


async def run_worker(
    database_url: str,
    *,
    concurrency: int,
    stop: asyncio.Event,
    heartbeat_timeout: timedelta = timedelta(seconds=30),
    settings: Settings | None = None,
    restart_delay: float = 0.5,
) -> None:
    """Run jobs until `stop` is set. A job whose worker died is run again after `heartbeat_timeout`.

    A lost database (a restart, a failover) ends pgqueuer's run: the worker then reconnects by
    itself, with back-off, until `stop` is set (it never dies silently beside a healthy web app).
    """
    delay = restart_delay
    while not stop.is_set():
        started = time.monotonic()
        try:
            await _run_once(
                database_url,
                concurrency=concurrency,
                stop=stop,
                heartbeat_timeout=heartbeat_timeout,
                settings=settings,
            )
            problem = "its queue manager stopped"
        except (psycopg.Error, PoolTimeout, OSError) as exc:
            problem = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        except Exception as exc:  # anything else: logged in full, and the worker carries on
            log.exception("job worker failed")
            problem = type(exc).__name__
        if stop.is_set():
            return
        if time.monotonic() - started > 60:
            delay = restart_delay  # it ran for a while: the next outage starts from a short wait
        log.warning("job worker interrupted (%s); restarting in %.1f s", problem, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, 30.0)


async def _run_once(
    database_url: str,
    *,
    concurrency: int,
    stop: asyncio.Event,
    heartbeat_timeout: timedelta,
    settings: Settings | None,
) -> None:
    """One life of the worker: its pools, its LISTEN connection and pgqueuer's run, until either
    ends; everything it opened is closed in reverse order, the features' stop hooks first."""
    settings = settings or get_settings()
    concurrency = max(2, concurrency)
    async with AsyncExitStack() as stack:
        pooled, mib = settings.pooled, settings.db_backend_memory_mib
        pool = await _open_pool(
            stack, database_url, "wacrm-worker", POOL_MAX, concurrency, pooled, mib
        )
        short_pool = await _open_pool(
            stack, database_url, "wacrm-worker-short", SHORT_POOL_MAX, concurrency, pooled, mib
        )
        # LISTEN needs a session of its own: the direct URL when DATABASE_URL is a pooler
        listen = await psycopg.AsyncConnection.connect(
            settings.session_url(database_url), autocommit=True
        )
        stack.push_async_callback(_close_quietly, listen)
        queries = await psycopg.AsyncConnection.connect(
            database_url, autocommit=True, **connect_kwargs(pooled)
        )
        stack.push_async_callback(_close_quietly, queries)
        qm = QueueManager(Queries(_SplitDriver(listen, queries)))
        for spec in ENTRYPOINTS.values():
            _register(qm, spec)
        context.install(
            context.WorkerContext(
                pool=pool,
                settings=settings,
                database_url=database_url,
                short_pool=short_pool,
                concurrency=concurrency,
            )
        )
        stack.callback(context.install, None)
        stack.push_async_callback(_run_stop_hooks)  # first out: the context is still installed
        await _run_queue(qm, stop, concurrency=concurrency, heartbeat_timeout=heartbeat_timeout)
    log.info("job worker stopped")


async def _open_pool(
    stack: AsyncExitStack,
    database_url: str,
    name: str,
    most: int,
    concurrency: int,
    pooled: bool,
    memory_mib: int,
) -> AsyncConnectionPool[Any]:
    pool = create_pool(
        database_url,
        max_size=max(2, min(concurrency, most)),
        min_size=1,
        name=name,
        check=check_if_signalled,
        pooled=pooled,
        memory_mib=memory_mib,
    )
    await pool.open(wait=True)
    stack.push_async_callback(pool.close)
    return pool


async def _close_quietly(conn: psycopg.AsyncConnection[Any]) -> None:
    with contextlib.suppress(psycopg.Error):
        await conn.close()


async def _run_queue(
    qm: QueueManager, stop: asyncio.Event, *, concurrency: int, heartbeat_timeout: timedelta
) -> None:
    """pgqueuer's run with the periodic tasks beside it, until `stop` or a lost connection."""
    done = asyncio.Event()  # this life is over (stop, or a lost connection)

    async def relay_stop() -> None:
        await stop.wait()
        qm.shutdown.set()

    helpers = [asyncio.create_task(relay_stop())]
    helpers += [asyncio.create_task(_run_periodic(spec, done)) for spec in PERIODICS.values()]
    log.info("job worker started: %d entrypoints, concurrency %d", len(ENTRYPOINTS), concurrency)
    try:
        await qm.run(
            batch_size=max(1, concurrency // 2),
            max_concurrent_tasks=concurrency,
            heartbeat_timeout=heartbeat_timeout,
            dequeue_timeout=timedelta(seconds=1),
        )
    finally:
        done.set()
        for task in helpers:
            task.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
