"""pgqueuer's queries do not wait behind its LISTEN watcher (they used to: ~8 jobs/s per worker)."""

from __future__ import annotations

import asyncio
import time

import psycopg

from wacrm.jobs.worker import _SplitDriver


async def test_queries_run_while_the_watcher_waits_for_notifications(db_url: str) -> None:
    listen = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
    queries = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
    got: list[str] = []
    driver = _SplitDriver(listen, queries)
    try:
        async with driver:
            await driver.add_listener("wacrm_test_split", got.append)
            await asyncio.sleep(0.1)  # the watcher now holds `listen` for up to 1 s
            took = []
            for _ in range(5):
                started = time.perf_counter()
                rows = await driver.fetch("SELECT $1::int AS n", 7)
                took.append(time.perf_counter() - started)
                assert rows == [{"n": 7}]
            assert sorted(took)[2] < 0.3, took  # median: not the watcher's 1 s timeout
            await driver.notify("wacrm_test_split", "hello")
            for _ in range(50):
                if got:
                    break
                await asyncio.sleep(0.05)
            assert got == ["hello"]  # notifications still reach the listener
    finally:
        await listen.close()
        await queries.close()
