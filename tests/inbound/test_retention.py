"""Journal retention: processed webhooks older than the retention leave; nothing else does."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from wacrm.db.pool import create_pool
from wacrm.inbound.journal import prune_journal
from wacrm.inbound.tasks import prune_processed_webhooks
from wacrm.jobs import context
from wacrm.worker import run_worker

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def _journal(conn: Any, rows: list[tuple[str, int]]) -> list[int]:
    """Insert journal rows (status, age in days) in this order; return their ids."""
    ids = []
    for status, days in rows:
        cur = await conn.execute(
            "INSERT INTO webhook_journal (received_at, body, status) VALUES (%s, '{}', %s) RETURNING id",
            (NOW - timedelta(days=days), status),
        )
        ids.append((await cur.fetchone())["id"])
    return ids


async def _left(conn: Any) -> list[int]:
    cur = await conn.execute("SELECT id FROM webhook_journal ORDER BY id")
    return [r["id"] for r in await cur.fetchall()]


async def test_only_old_processed_rows_are_pruned_in_batches(conn: Any) -> None:
    ids = await _journal(
        conn,
        [("processed", 40)] * 3
        + [("failed", 40), ("received", 40)]
        + [("processed", 35)] * 2
        + [("processed", 5), ("failed", 1), ("received", 0)],
    )
    deleted = await prune_journal(conn, older_than=timedelta(days=30), now=NOW, batch=2)
    assert deleted == 5
    assert await _left(conn) == [ids[3], ids[4], *ids[7:]]
    assert await prune_journal(conn, older_than=timedelta(days=30), now=NOW) == 0


async def test_a_row_a_processor_holds_is_left_for_the_next_run(conn: Any, db_url: str) -> None:
    held, free = await _journal(conn, [("processed", 40), ("processed", 40)])
    async with await psycopg.AsyncConnection.connect(db_url) as other:
        await other.execute("SELECT 1 FROM webhook_journal WHERE id = %s FOR UPDATE", (held,))
        assert await prune_journal(conn, older_than=timedelta(days=30), now=NOW) == 1
        assert await _left(conn) == [held]
        await other.rollback()
    assert await prune_journal(conn, older_than=timedelta(days=30), now=NOW) == 1
    assert await _left(conn) == []


async def _journal_now(conn: Any, rows: list[tuple[str, int]]) -> None:
    now = datetime.now(UTC)
    for status, days in rows:
        await conn.execute(
            "INSERT INTO webhook_journal (received_at, body, status) VALUES (%s, '{}', %s)",
            (now - timedelta(days=days), status),
        )


async def _statuses(conn: Any) -> list[str]:
    cur = await conn.execute("SELECT status FROM webhook_journal ORDER BY id")
    return [r["status"] for r in await cur.fetchall()]


async def test_a_starting_worker_prunes_the_journal(db_url: str, conn: Any, settings: Any) -> None:
    await _journal_now(conn, [("processed", 31), ("processed", 29), ("failed", 31)])
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(db_url, concurrency=1, stop=stop, settings=settings))
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(await _statuses(conn)) == 3:
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    assert await _statuses(conn) == ["processed", "failed"]


async def test_zero_retention_days_keep_everything(db_url: str, conn: Any, settings: Any) -> None:
    await _journal_now(conn, [("processed", 400)])
    async with create_pool(db_url, min_size=1, max_size=1) as pool:
        for days, left in [(0, ["processed"]), (365, [])]:
            keep = settings.model_copy(update={"journal_retention_days": days})
            context.install(context.WorkerContext(pool=pool, settings=keep, database_url=db_url))
            try:
                await prune_processed_webhooks()
            finally:
                context.install(None)
            assert await _statuses(conn) == left
