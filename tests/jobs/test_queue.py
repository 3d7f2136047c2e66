"""The job queue: enqueue in the caller's transaction, the worker, retries, abandoned jobs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.jobs import sample_tasks
from wacrm.jobs import enqueue
from wacrm.jobs.worker import run_worker

ROOT = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def running_worker(db_url: str, **kwargs: Any) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(db_url, concurrency=4, stop=stop, **kwargs))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def wait_for_rows(
    conn: Any, sql: str, count: int, timeout: float = 10.0
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = await (await conn.execute(sql)).fetchall()
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.05)


async def test_job_commits_and_rolls_back_with_the_callers_transaction(conn: Any) -> None:
    await conn.execute(sample_tasks.LOG_TABLE)
    await conn.execute("CREATE TABLE thing (id int)")
    with pytest.raises(RuntimeError):
        async with conn.transaction():
            await conn.execute("INSERT INTO thing VALUES (1)")
            await enqueue(conn, "test.record", {"name": "lost"})
            raise RuntimeError("roll back")
    assert await (await conn.execute("SELECT count(*) AS n FROM pgqueuer")).fetchone() == {"n": 0}
    async with conn.transaction():
        await conn.execute("INSERT INTO thing VALUES (2)")
        job_id = await enqueue(conn, "test.record", {"name": "kept"}, priority=3)
    row = await (
        await conn.execute("SELECT id, entrypoint, priority, status FROM pgqueuer")
    ).fetchone()
    assert row == {"id": job_id, "entrypoint": "test.record", "priority": 3, "status": "queued"}


async def test_worker_runs_jobs_and_honours_execute_after(conn: Any, db_url: str) -> None:
    await conn.execute(sample_tasks.LOG_TABLE)
    enqueued = (await (await conn.execute("SELECT clock_timestamp() AS t")).fetchone())["t"]
    await enqueue(conn, "test.record", {"name": "now"})
    await enqueue(conn, "test.record", {"name": "later"}, execute_after=timedelta(seconds=1.5))
    async with running_worker(db_url):
        rows = await wait_for_rows(conn, "SELECT name, at FROM job_test_log ORDER BY at", 2)
    assert [r["name"] for r in rows] == ["now", "later"]
    # times from the database's clock: a slow worker start on a loaded machine cannot fake it
    assert rows[1]["at"] - enqueued >= timedelta(seconds=1.45)
    assert await (await conn.execute("SELECT count(*) AS n FROM pgqueuer")).fetchone() == {"n": 0}


async def test_retry_runs_the_job_again_with_the_attempt_count(conn: Any, db_url: str) -> None:
    await conn.execute(sample_tasks.LOG_TABLE)
    await enqueue(conn, "test.flaky", {"name": "f", "fail_times": 2})
    async with running_worker(db_url):
        rows = await wait_for_rows(conn, "SELECT attempt FROM job_test_log ORDER BY id", 3)
        await asyncio.sleep(0.3)
        rows = await (await conn.execute("SELECT attempt FROM job_test_log ORDER BY id")).fetchall()
    assert [r["attempt"] for r in rows] == [0, 1, 2]


@pytest.mark.slow
async def test_job_of_a_killed_worker_is_run_again(conn: Any, db_url: str) -> None:
    await conn.execute(sample_tasks.LOG_TABLE)
    await enqueue(conn, "test.slow", {"name": "s", "seconds": 30})
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.jobs.sample_tasks", db_url],
        cwd=ROOT,
        env={**os.environ, "WACRM_LOG_LEVEL": "WARNING"},
    )
    try:
        rows = await wait_for_rows(conn, "SELECT name, pid FROM job_test_log", 1, timeout=20)
        assert rows and rows[0]["name"] == "s:started" and rows[0]["pid"] == proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    picked = await (await conn.execute("SELECT status FROM pgqueuer")).fetchone()
    assert picked == {"status": "picked"}  # abandoned, not lost
    await conn.execute(
        'UPDATE pgqueuer SET payload = convert_to(\'{"name": "s", "seconds": 0}\', \'UTF8\')'
    )
    async with running_worker(db_url, heartbeat_timeout=timedelta(seconds=2)):
        rows = await wait_for_rows(
            conn, "SELECT name, pid FROM job_test_log ORDER BY id", 3, timeout=20
        )
    assert [r["name"] for r in rows] == ["s:started", "s:started", "s:done"]
    assert rows[2]["pid"] == os.getpid()
