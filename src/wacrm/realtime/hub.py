"""One LISTEN connection per process, fanned out to subscribers by agent; reconnects by itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Any

import orjson
import psycopg
from fastapi import FastAPI
from psycopg import sql

from wacrm.realtime.credentials import CREDENTIALS_CHANNEL
from wacrm.realtime.events import CHANNEL

log = logging.getLogger(__name__)

REFRESH = "refresh"  # kind of the event that tells a subscriber it may have missed events
RECHECK = "recheck"  # internal: the subscriber's user's credentials changed; never sent to clients


class Subscription:
    """A subscriber's queue of events for one agent (or every agent when agent_id is None)."""

    def __init__(self, agent_id: int | None, max_queue: int, user_id: str | None = None) -> None:
        self.agent_id = agent_id
        self.user_id = user_id
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(max_queue)

    def offer(self, event: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:  # a slow reader: drop what it has not read and say so
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait({"kind": REFRESH, "reason": "overflow"})

    async def get(self) -> dict[str, Any]:
        return await self.queue.get()


class EventHub:
    """LISTEN on `events.CHANNEL` and hand each event to the subscribers of its agent."""

    def __init__(
        self,
        url: str,
        *,
        channel: str = CHANNEL,
        max_queue: int = 1000,
        backoff_initial: float = 0.2,
        backoff_max: float = 10.0,
        health_interval: float = 15.0,
    ) -> None:
        self.url = url
        self.channel = channel
        self.max_queue = max_queue
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.health_interval = health_interval
        self.connected = asyncio.Event()
        self.reconnects = 0
        self.backend_pid: int | None = None
        self._subscribers: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def subscribe(self, agent_id: int | None, user_id: str | None = None) -> Iterator[Subscription]:
        sub = Subscription(agent_id, self.max_queue, user_id)
        self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="wacrm-event-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.connected.clear()

    def dispatch(self, text: str) -> None:
        """Hand one NOTIFY payload to the subscribers of its agent (bad payloads are logged)."""
        try:
            event = orjson.loads(text)
            agent_id = event["agent_id"]
            if not isinstance(agent_id, int) or not isinstance(event.get("kind"), str):
                raise ValueError("agent_id must be an integer and kind a string")
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignored a malformed %s payload %r: %s", self.channel, text[:200], exc)
            return
        for sub in list(self._subscribers):
            if sub.agent_id is None or sub.agent_id == agent_id:
                sub.offer(event)

    def credentials_changed(self, text: str) -> None:
        """A user's sessions or tokens changed (in any process): that user's subscribers re-check."""
        try:
            user_id = str(orjson.loads(text)["user_id"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning(
                "ignored a malformed %s payload %r: %s", CREDENTIALS_CHANNEL, text[:200], exc
            )
            return
        for sub in list(self._subscribers):
            if sub.user_id == user_id:
                sub.offer({"kind": RECHECK})

    def _broadcast_refresh(self, reason: str) -> None:
        for sub in list(self._subscribers):
            sub.offer({"kind": REFRESH, "reason": reason})

    async def _run(self) -> None:
        delay = self.backoff_initial
        gap = False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    await conn.execute(
                        sql.SQL("LISTEN {}").format(sql.Identifier(CREDENTIALS_CHANNEL))
                    )
                    self.backend_pid = conn.info.backend_pid
                    self.connected.set()
                    if gap:
                        self.reconnects += 1
                        log.info("event listener reconnected; subscribers told to refresh")
                        self._broadcast_refresh("reconnected")
                        for sub in list(self._subscribers):  # a revocation may have been missed
                            if sub.user_id is not None:
                                sub.offer({"kind": RECHECK})
                    gap, delay = False, self.backoff_initial
                    while True:
                        async for note in conn.notifies(timeout=self.health_interval):
                            if note.channel == CREDENTIALS_CHANNEL:
                                self.credentials_changed(note.payload)
                            else:
                                self.dispatch(note.payload)
                        await conn.execute("SELECT 1")  # a quiet connection may be a dead one
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: reconnect with back-off
                if self.connected.is_set():
                    log.warning("event listener lost its connection: %s", exc)
                self.connected.clear()
                gap = True
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, self.backoff_max)


async def startup_hook(app: FastAPI, stack: AsyncExitStack) -> None:
    """Start this process's event hub (app.state.event_hub); stopped on shutdown."""
    hub = EventHub(app.state.settings.session_url(app.state.database_url))  # LISTEN: a session
    await hub.start()
    app.state.event_hub = hub
    stack.push_async_callback(hub.stop)
