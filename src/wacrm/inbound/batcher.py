"""Group commit: verified webhooks queue up and are journaled and processed many per transaction.

Each request is answered only after the transaction holding its webhook committed, so durability
is that of one transaction per webhook; the commit (and its fsync) is shared. A batch that fails is
redone one webhook per transaction, so one bad payload cannot fail the others.

With deferred processing (WACRM_WEBHOOK_PROCESSING=deferred, the default) a batch is only journaled
(one INSERT and a NOTIFY): the 200 means "durably kept", and a journal processor
(`wacrm.inbound.consumer`) turns the journal into customers and messages moments later.

`concurrency` batches are in flight at once (on their own connections), so that the web process
builds the next batch while PostgreSQL executes and commits the previous one. Within a batch the
webhooks are sorted by customer, so two batches lock customers in the same order; a deadlock that
still happens (one person seen by phone in one batch and by BSUID only in another) is retried one
webhook per transaction like any failed batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from wacrm.inbound.ingest import ingest_webhooks
from wacrm.inbound.journal import Webhook, journal_received
from wacrm.inbound.routing import RouteCache, route_cache

log = logging.getLogger(__name__)


class Batcher:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        routes: RouteCache,
        *,
        max_batch: int = 64,
        concurrency: int = 2,
        deferred: bool = False,
    ) -> None:
        self.pool = pool
        self.routes = routes
        self.max_batch = max(1, max_batch)
        self.concurrency = max(1, concurrency)
        self.deferred = deferred
        self.queue: asyncio.Queue[tuple[Webhook, asyncio.Future[str]]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.batches = 0
        self.fallbacks = 0

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run(), name=f"wacrm-webhook-batcher-{i}")
                for i in range(self.concurrency)
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        while not self.queue.empty():
            _, fut = self.queue.get_nowait()
            if not fut.done():
                fut.set_exception(RuntimeError("the server is shutting down"))

    async def submit(self, hook: Webhook) -> str:
        """Queue a verified webhook; its journal status ('received', 'processed' or 'failed') once committed."""
        self.start()
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((hook, fut))
        return await fut

    async def _run(self) -> None:
        while True:
            items = [await self.queue.get()]
            while len(items) < self.max_batch and not self.queue.empty():
                items.append(self.queue.get_nowait())
            if not self.deferred:  # deferred batches take no locks: keep the arrival order
                items.sort(key=lambda item: item[0].lock_key)
            try:
                results = await self._flush([h for h, _ in items])
            except Exception as exc:  # the database is unreachable: every request answers 503
                for _, fut in items:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), result in zip(items, results, strict=True):
                if not fut.done():
                    fut.set_result(result)

    async def _flush(self, hooks: list[Webhook]) -> list[str]:
        """Write a batch; once more on a new connection when the first one was dead.

        The pool checks a connection on checkout only when its socket has something to read, so
        one whose backend was just ended (a database restart, a terminated backend) can still be
        handed out before the server's goodbye reaches it. After such a loss every idle
        connection is checked with a round trip (they were likely ended together). A batch
        written twice (if the connection died after the commit) counts once: journaled bodies
        are processed once and messages are unique by wamid.
        """
        for attempt in (1, 2):
            async with self.pool.connection() as conn:
                self.batches += 1
                try:
                    return await self._write(conn, hooks)
                except psycopg.OperationalError:
                    if attempt == 2 or not conn.broken:
                        raise
            log.info("webhook batch retried on a new connection (the first one was closed)")
            await self.pool.check()
        raise AssertionError("unreachable")

    async def _write(self, conn: AsyncConnection[Any], hooks: list[Webhook]) -> list[str]:
        if self.deferred:
            return await journal_received(conn, hooks)
        statuses, fell_back = await ingest_webhooks(conn, hooks, self.routes)
        self.fallbacks += fell_back
        return statuses


def batcher_of(app: Any) -> Batcher | None:
    return getattr(app.state, "webhook_batcher", None)


async def start_webhook_batcher(app: Any, stack: contextlib.AsyncExitStack) -> None:
    """Startup hook: the group-commit batcher (WACRM_WEBHOOK_BATCH_MAX > 0), stopped on shutdown.

    The batcher has its own connections (one per batch in flight) checked on checkout only when
    their socket has something to read (`check_if_signalled`): the app pool's check, an empty
    query, was a round trip per batch.
    """
    from wacrm.db.pool import check_if_signalled, create_pool

    size = app.state.settings.webhook_batch_max
    if size <= 0:
        return
    concurrency = 2
    pool = create_pool(
        app.state.database_url,
        max_size=concurrency,
        min_size=concurrency,
        name="wacrm-webhooks",
        check=check_if_signalled,
        pooled=app.state.settings.pooled,
    )
    await pool.open(wait=False)
    stack.push_async_callback(pool.close)
    batcher = Batcher(
        pool,
        route_cache(app),
        max_batch=size,
        concurrency=concurrency,
        deferred=app.state.settings.webhook_processing == "deferred",
    )
    app.state.webhook_batcher = batcher
    batcher.start()
    stack.push_async_callback(batcher.stop)
