"""The journal consumer: claims deferred webhooks (journal rows 'received') and hands them to ingest.

With WACRM_WEBHOOK_PROCESSING=deferred the web process only journals a webhook before its 200; this
loop, run by every job worker (`wacrm worker`, and `wacrm serve`'s in-process worker), claims the
oldest waiting rows of a bounded number of numbers (agents; `journal.CLAIM_NUMBERS`) with `FOR
UPDATE SKIP LOCKED` (so any number of processors share the work, each row processed once),
processes them set-based in ONE transaction together with marking them
'processed', and is woken by the NOTIFY of the journal insert (a poll catches what a lost
notification would miss). A row that cannot be processed is marked 'failed' with the reason, on
its own, and the others of its batch go on. A crash or a database restart rolls the transaction
back: the rows are still 'received' and are claimed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from wacrm.inbound import journal
from wacrm.inbound.ingest import ingest_journal_rows
from wacrm.inbound.routing import RouteCache

log = logging.getLogger(__name__)

BATCH = 1000  # journal rows per processing transaction
POLL_SECONDS = 1.0  # longest wait without a notification
LINGER_SECONDS = 0.02  # pause after a partial batch, so that the next one is larger
CLAIM_SLACK = 1000  # ids below the last claim's first one that the next claim still looks at
FULL_CLAIM_SECONDS = 2.0  # how often a claim starts from the journal's first id (at most)
FULL_CLAIM_SHARE = 0.02  # …and no more often than keeps full claims under this share of the time
FULL_CLAIM_MAX_SECONDS = 30.0  # however slow a full claim, the next comes within this


@dataclass
class ClaimWindow:
    """Where a processor's claims start in the journal: a little below the first id it claimed last.

    A processed row leaves a dead entry under 'received' in the journal's status index until
    VACUUM removes it, and PostgreSQL 15 walks past such entries one heap fetch each (they are
    not marked dead by the claims' index scans here): a claim from the first id would read every
    row processed since the last VACUUM (docs/performance.md). Claims start
    `CLAIM_SLACK` ids below the previous claim's first id instead (a webhook journaled earlier
    but committed later, or given back by a processor that rolled back, is still seen), and every
    `FULL_CLAIM_SECONDS` from the start, so that any row older than that is claimed all the same
    (less often when such a claim is slow: at most `FULL_CLAIM_SHARE` of the time, and at least
    every `FULL_CLAIM_MAX_SECONDS`).
    """

    floor: int = 0
    full_due: float = 0.0  # time.monotonic() of the next claim from the start
    numbers_full: bool = False  # the last claim stopped at its bound of numbers: more are waiting

    def start(self) -> int:
        """The lowest id the next claim looks at."""
        now = time.monotonic()
        if now >= self.full_due:
            self.full_due = now + FULL_CLAIM_SECONDS
            return 0
        return self.floor

    def claimed(self, first_id: int) -> None:
        self.floor = max(0, first_id - CLAIM_SLACK)

    def full_claim_took(self, seconds: float) -> None:
        pause = min(seconds / FULL_CLAIM_SHARE, FULL_CLAIM_MAX_SECONDS)
        self.full_due = max(self.full_due, time.monotonic() + pause)


async def process_waiting(
    pool: AsyncConnectionPool,
    routes: RouteCache,
    *,
    batch: int = BATCH,
    window: ClaimWindow | None = None,
    shard: int = 0,
    shards: int = 1,
) -> int:
    """Claim and process up to `batch` waiting journal rows in one transaction; how many were claimed.

    Without a `window` the claim looks at the whole journal; with `shards` > 1, only at the
    numbers of `shard` (`journal.claim`).
    """
    async with pool.connection() as conn, conn.transaction():
        start = window.start() if window is not None else 0
        began = time.monotonic()
        rows = await journal.claim(conn, start=start, batch=batch, shard=shard, shards=shards)
        if window is not None and start == 0:
            window.full_claim_took(time.monotonic() - began)
        if not rows:
            return 0
        if window is not None:
            window.claimed(rows[0].id)
            window.numbers_full = len({r.phone_number_id for r in rows}) >= journal.CLAIM_NUMBERS
        await ingest_journal_rows(conn, rows, routes)
        return len(rows)


async def drain(pool: AsyncConnectionPool, routes: RouteCache | None = None) -> int:
    """Process every waiting row now (tests, `wacrm webhooks process`); how many were processed."""
    routes = routes or RouteCache()
    total = 0
    while n := await process_waiting(pool, routes):
        total += n
    return total


async def run_processor(
    database_url: str,
    stop: asyncio.Event,
    *,
    batch: int = BATCH,
    poll: float = POLL_SECONDS,
    linger: float = LINGER_SECONDS,
    listen_url: str | None = None,
    pooled: bool = False,
    memory_mib: int = 0,
    shards: int = 1,
) -> None:
    """Process the journal until `stop` is set; survives database restarts (reconnects with back-off).

    `shards` processors work side by side, each on the numbers of its shard (`journal.claim`)
    with a connection of its own: different agents at the same time, and each connection keeps
    only its own agents' table caches. `listen_url` (default `database_url`) is where LISTEN goes:
    a direct session when `database_url` is a transaction-mode pooler (`pooled`: no prepared
    statements on it). `memory_mib`: a connection is replaced when its server process holds more
    (0: never).
    """
    from wacrm.db.pool import create_pool

    gc.collect()
    gc.freeze()  # what the process holds so far stays out of later full collections (their pauses)
    routes = RouteCache()
    wakeups = [asyncio.Event() for _ in range(shards)]
    # every batch touches up to journal.CLAIM_NUMBERS agents: the backend's memory is looked at
    # after each one
    pools = [
        create_pool(
            database_url,
            max_size=1,
            min_size=1,
            name=f"wacrm-journal-{shard}",
            pooled=pooled,
            memory_mib=memory_mib,
            memory_check_every=1,
        )
        for shard in range(shards)
    ]
    for pool in pools:
        await pool.open(wait=False)
    try:
        await asyncio.gather(
            _listen(listen_url or database_url, stop, wakeups, poll),
            *(
                _process_shard(pool, routes, stop, wakeups[shard], shard, shards, batch, linger)
                for shard, pool in enumerate(pools)
            ),
        )
    finally:
        for pool in pools:
            await pool.close()


async def _process_shard(
    pool: AsyncConnectionPool,
    routes: RouteCache,
    stop: asyncio.Event,
    wakeup: asyncio.Event,
    shard: int,
    shards: int,
    batch: int,
    linger: float,
) -> None:
    """One processor: its shard's waiting rows, batch after batch; waits for `wakeup` when idle."""
    window = ClaimWindow()
    delay = 0.5
    while not stop.is_set():
        try:
            wakeup.clear()
            n = await process_waiting(
                pool, routes, batch=batch, window=window, shard=shard, shards=shards
            )
            delay = 0.5
            if n >= batch or window.numbers_full:
                await asyncio.sleep(0)  # a backlog: on at once
            elif n:
                # caught up: let the next batch gather (each batch has a fixed cost: a
                # transaction, a commit, a claim; small ones take the CPU the web processes need
                # to answer webhooks during a burst)
                await asyncio.sleep(linger)
            else:
                await _until(wakeup, stop)
        except (psycopg.Error, PoolTimeout, OSError) as exc:
            if stop.is_set():
                return
            log.warning(
                "journal processor %d interrupted (%s); restarting in %.1f s",
                shard,
                type(exc).__name__,
                delay,
            )
            delay = await _back_off(stop, delay)
        except Exception:  # a bug must not stop ingest for good: logged, and it carries on
            log.exception("journal processor %d failed; restarting in %.1f s", shard, delay)
            delay = await _back_off(stop, delay)


async def _listen(url: str, stop: asyncio.Event, wakeups: list[asyncio.Event], poll: float) -> None:
    """Wake every processor at each journal NOTIFY and at least every `poll` seconds."""
    delay = 0.5
    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as listen:
                await listen.execute(f"LISTEN {journal.JOURNAL_CHANNEL}")
                delay = 0.5
                for wakeup in wakeups:  # what was journaled while nobody listened
                    wakeup.set()
                while not stop.is_set():
                    await _wait(listen, stop, poll)
                    for wakeup in wakeups:
                        wakeup.set()
        except (psycopg.Error, OSError) as exc:
            if stop.is_set():
                return
            log.warning(
                "journal LISTEN interrupted (%s); polling, reconnecting in %.1f s",
                type(exc).__name__,
                delay,
            )
            # meanwhile the processors look every `poll` seconds
            until = time.monotonic() + delay
            while not stop.is_set() and (left := until - time.monotonic()) > 0:
                for wakeup in wakeups:
                    wakeup.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), min(poll, left))
            delay = min(delay * 2, 30.0)


async def _until(event: asyncio.Event, stop: asyncio.Event) -> None:
    """Until `event` or `stop` is set."""
    waits = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


async def _back_off(stop: asyncio.Event, delay: float) -> float:
    """Wait `delay` seconds (less if `stop` is set); the next, doubled delay (at most 30 s)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay)
    return min(delay * 2, 30.0)


async def _wait(listen: AsyncConnection[Any], stop: asyncio.Event, poll: float) -> None:
    """Until a journal NOTIFY arrives, `poll` seconds pass, or `stop` is set."""
    notified = asyncio.ensure_future(_next_notify(listen, poll))
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({notified, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not notified.done():
            notified.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await notified
    if notified.done() and not notified.cancelled() and notified.exception() is not None:
        raise notified.exception()  # type: ignore[misc]


async def _next_notify(listen: AsyncConnection[Any], poll: float) -> None:
    async for _ in listen.notifies(timeout=poll, stop_after=1):
        return
