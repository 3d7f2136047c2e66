"""Group commit: verified webhooks queue up and are journaled and processed many per transaction.

Each request is answered only after the transaction holding its webhook committed, so durability
is that of one transaction per webhook; the commit (and its fsync) is shared. A batch that fails is
redone one webhook per transaction, so one bad payload cannot fail the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from wacrm.inbound.processing import ProcessingError
from wacrm.inbound.routing import RouteCache
from wacrm.inbound.service import (
    Webhook,
    describe,
    journal_failed,
    process_in_transaction,
    store_webhook,
)

log = logging.getLogger(__name__)


class Batcher:
    def __init__(
        self, pool: AsyncConnectionPool, routes: RouteCache, *, max_batch: int = 64
    ) -> None:
        self.pool = pool
        self.routes = routes
        self.max_batch = max(1, max_batch)
        self.queue: asyncio.Queue[tuple[Webhook, asyncio.Future[str]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.fallbacks = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="wacrm-webhook-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self.queue.empty():
            _, fut = self.queue.get_nowait()
            if not fut.done():
                fut.set_exception(RuntimeError("the server is shutting down"))

    async def submit(self, hook: Webhook) -> str:
        """Queue a verified webhook; 'processed' or 'failed' once it is committed in the journal."""
        self.start()
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((hook, fut))
        return await fut

    async def _run(self) -> None:
        while True:
            items = [await self.queue.get()]
            while len(items) < self.max_batch and not self.queue.empty():
                items.append(self.queue.get_nowait())
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
        async with self.pool.connection() as conn:
            self.batches += 1
            try:
                await process_in_transaction(conn, hooks, self.routes)
                return ["processed"] * len(hooks)
            except psycopg.OperationalError:
                raise
            except Exception as exc:
                if len(hooks) == 1:
                    if not isinstance(exc, ProcessingError):
                        log.exception("webhook processing failed; kept in the journal for replay")
                    await journal_failed(conn, hooks[0], describe(exc))
                    return ["failed"]
            self.fallbacks += 1
            return [await store_webhook(conn, h, self.routes) for h in hooks]


def batcher_of(app: Any) -> Batcher | None:
    return getattr(app.state, "webhook_batcher", None)


async def start_webhook_batcher(app: Any, stack: contextlib.AsyncExitStack) -> None:
    """Startup hook: the group-commit batcher (WACRM_WEBHOOK_BATCH_MAX > 0), stopped on shutdown."""
    from wacrm.inbound.router import route_cache

    size = app.state.settings.webhook_batch_max
    if size <= 0:
        return
    batcher = Batcher(app.state.pool, route_cache(app), max_batch=size)
    app.state.webhook_batcher = batcher
    batcher.start()
    stack.push_async_callback(batcher.stop)
