"""A worker's send slots: it claims due sends for its free slots and sends each from a task of
its own (sends are not pgqueuer jobs: docs/architecture.md, "Outbound sends")."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import weakref
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from wacrm.jobs import context
from wacrm.outbound import claim, schedule
from wacrm.outbound.sending import lease

log = logging.getLogger(__name__)

SLOTS_PER_CONCURRENCY = (
    2  # send slots of a worker per unit of its concurrency (a slot mostly waits)
)
IDLE_WAIT = 0.1  # seconds between looks when no send is due soon (a reply waits at most this)
STOP_WAIT = 10.0  # seconds a stopping worker gives its sends in flight

Send = Callable[[dict[str, Any]], Awaitable[None]]
_names = itertools.count(1)


class Dispatcher:
    """The sends in flight of one worker life (its statement pool), and its name in `claimed_by`."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.holder = f"{socket.gethostname()}/{os.getpid()}/{next(_names)}"
        self.running: set[asyncio.Task[None]] = set()

    @property
    def free(self) -> int:
        return self.slots - len(self.running)

    def start(self, send: Send, row: dict[str, Any]) -> None:
        task = asyncio.create_task(self._run(send, row))
        self.running.add(task)
        task.add_done_callback(self.running.discard)

    @staticmethod
    async def _run(send: Send, row: dict[str, Any]) -> None:
        try:
            await send(row)
        except Exception:  # the lease expires and the sweeper puts the send back
            log.exception(
                "send of message %s (agent %s) failed", row["message_id"], row["agent_id"]
            )

    async def finish(self) -> None:
        """Let the sends in flight end (their leases protect the ones cut short)."""
        if not self.running:
            return
        _, late = await asyncio.wait(set(self.running), timeout=STOP_WAIT)
        for task in late:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*late, return_exceptions=True)


_dispatchers: weakref.WeakKeyDictionary[AsyncConnectionPool[Any], Dispatcher] = (
    weakref.WeakKeyDictionary()
)


def current() -> Dispatcher:
    """The dispatcher of the running worker life (made on first use)."""
    ctx = context.current()
    found = _dispatchers.get(ctx.statements)
    if found is None:
        found = _dispatchers[ctx.statements] = Dispatcher(ctx.concurrency * SLOTS_PER_CONCURRENCY)
    return found


async def dispatch_due(send: Send) -> None:
    """Claim due sends for the free slots and start them; when none is due, wait for the next
    slot (at most IDLE_WAIT). Called again at once by the worker's periodic loop."""
    dispatcher = current()
    if dispatcher.free <= 0:
        return
    pool = context.current().statements
    following = None
    try:
        async with pool.connection() as conn:
            rows = await claim.claim_due(
                conn,
                limit=dispatcher.free,
                holder=dispatcher.holder,
                lease=lease(),
                near=timedelta(seconds=schedule.NEAR),
            )
            if not rows:
                following = await schedule.seconds_to_next(conn)
    except (psycopg.OperationalError, PoolTimeout) as exc:
        log.warning("due sends not claimed (database unavailable): %s", exc)
        await asyncio.sleep(1.0)
        return
    except psycopg.Error:  # e.g. a table missing mid-deploy: one traceback a second, not 40
        log.exception("due sends not claimed")
        await asyncio.sleep(1.0)
        return
    for row in rows:
        dispatcher.start(send, row)
    if rows:
        return
    wait = IDLE_WAIT if following is None else following - schedule.NEAR
    await asyncio.sleep(min(max(wait, 0.0), IDLE_WAIT))


async def finish_current() -> None:
    """At a worker's stop: its sends in flight end (or are cut after STOP_WAIT)."""
    ctx = context.current()
    found = _dispatchers.pop(ctx.statements, None)
    if found is not None:
        await found.finish()
