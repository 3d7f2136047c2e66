"""Reads that tolerate a little lag (dashboard, exports, the admin journal view) on a streaming
replica (DATABASE_READ_URL), falling back to the primary when the replica lags or is down.

A monitor task asks the replica for its replay lag every second; requests only read the result,
so a lagging or dead replica costs them nothing. Which server answered, and why, is in /metrics
(`wacrm_db_reads_total`, `wacrm_db_replica_up`, `wacrm_db_replica_lag_seconds`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from prometheus_client import Counter, Gauge
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from wacrm.db.pool import connect_kwargs, create_pool
from wacrm.ops.metrics import REGISTRY

log = logging.getLogger(__name__)

# seconds the replica's replay is behind: 0 when it has replayed all it received (an idle
# primary sends nothing, so "time since the last replayed commit" alone would grow forever)
LAG_SQL = """
SELECT CASE
         WHEN NOT pg_is_in_recovery() THEN 0
         WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
         ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)
       END::float8 AS lag
"""
READS = Counter(
    "wacrm_db_reads_total",
    "Read-only work by where it ran: replica, or primary with the reason (no_replica, lag, down)",
    ["purpose", "target", "reason"],
    registry=REGISTRY,
)
REPLICA_UP = Gauge(
    "wacrm_db_replica_up", "1 when the read replica answers its lag check", registry=REGISTRY
)
REPLICA_LAG = Gauge(
    "wacrm_db_replica_lag_seconds", "Replay lag of the read replica (last check)", registry=REGISTRY
)
REPLICA_USED = Gauge(
    "wacrm_db_replica_in_use",
    "1 when reads go to the replica (up and within WACRM_READ_MAX_LAG_SECONDS)",
    registry=REGISTRY,
)


def replica_lag_seconds(url: str) -> float:
    """The replay lag of the server at `url` (0 for a primary), one connection."""
    with psycopg.connect(url, connect_timeout=5, prepare_threshold=None) as conn:
        row = conn.execute(LAG_SQL).fetchone()
    return float(row[0]) if row else 0.0


class ReadRouter:
    """Chooses where a read-only unit of work runs: the replica when usable, else the primary."""

    def __init__(
        self,
        primary: AsyncConnectionPool,
        read_url: str | None,
        *,
        max_lag: float = 5.0,
        interval: float = 1.0,
        pooled: bool = False,
    ) -> None:
        self.primary = primary
        self.read_url = read_url
        self.max_lag = max_lag
        self.interval = interval
        self.pooled = pooled
        self.replica: AsyncConnectionPool | None = None
        self.up = False
        self.lag: float | None = None
        self.checked_at = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def reason(self) -> str | None:
        """Why reads go to the primary now (None: the replica is used)."""
        if self.replica is None:
            return "no_replica"
        if not self.up or time.monotonic() - self.checked_at > max(5.0, 5 * self.interval):
            return "down"
        if self.lag is None or self.lag > self.max_lag:
            return "lag"
        return None

    async def start(self) -> None:
        if not self.read_url:
            return
        self.replica = create_pool(
            self.read_url, max_size=4, min_size=1, name="wacrm-read", pooled=self.pooled
        )
        await self.replica.open(wait=False)
        self._task = asyncio.create_task(self._monitor(), name="wacrm-replica-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.replica is not None:
            await self.replica.close()

    def _record(self, up: bool, lag: float | None) -> None:
        self.up, self.lag, self.checked_at = up, lag, time.monotonic()
        REPLICA_UP.set(1 if up else 0)
        if lag is not None:
            REPLICA_LAG.set(lag)
        REPLICA_USED.set(1 if self.reason is None else 0)

    async def _monitor(self) -> None:
        assert self.read_url
        conn: AsyncConnection[Any] | None = None
        was: str | None = "start"
        while True:
            try:
                if conn is None or conn.closed:
                    conn = await AsyncConnection.connect(
                        self.read_url,
                        autocommit=True,
                        connect_timeout=2,
                        **connect_kwargs(self.pooled),
                    )
                cur = await asyncio.wait_for(conn.execute(LAG_SQL), 2 + self.interval)
                row = await cur.fetchone()
                self._record(True, float(row[0]) if row else 0.0)
            except (psycopg.Error, OSError, TimeoutError) as exc:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
                    conn = None
                self._record(False, None)
                log.debug("read replica check failed: %s", exc)
            if self.reason != was:
                log.info(
                    "reads go to the %s", f"primary ({self.reason})" if self.reason else "replica"
                )
                was = self.reason
            await asyncio.sleep(self.interval)

    def pool_for(self, purpose: str) -> AsyncConnectionPool:
        """The pool to read from now (for work that takes its connection itself, e.g. exports)."""
        reason = self.reason
        if reason is None and self.replica is not None:
            READS.labels(purpose, "replica", "").inc()
            return self.replica
        READS.labels(purpose, "primary", reason or "").inc()
        return self.primary

    @asynccontextmanager
    async def connection(
        self, purpose: str, *, held: AsyncConnection[Any] | None = None
    ) -> AsyncIterator[AsyncConnection[Any]]:
        """A connection for read-only work: the replica's, or the primary's when it lags, is
        down, or does not hand out a connection within 2 s (then it counts as down). `held`, the
        caller's connection to the primary, is the primary's then (no second checkout)."""
        reason = self.reason
        if reason is None and self.replica is not None:
            try:
                conn = await self.replica.getconn(timeout=2.0)
            except (PoolTimeout, psycopg.OperationalError):
                self._record(False, None)
                reason = "down"
            else:
                READS.labels(purpose, "replica", "").inc()
                try:
                    yield conn
                finally:
                    await self.replica.putconn(conn)
                return
        READS.labels(purpose, "primary", reason or "").inc()
        if held is not None:
            yield held
            return
        async with self.primary.connection() as conn:
            yield conn
