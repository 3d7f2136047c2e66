"""Job handlers used by the job-queue tests (also imported by worker subprocesses)."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from typing import Any

from wacrm.jobs import Retry, context, current_attempt, entrypoint

LOG_TABLE = """
CREATE TABLE IF NOT EXISTS job_test_log (
  id bigserial PRIMARY KEY, name text NOT NULL, attempt int NOT NULL, pid int NOT NULL,
  at timestamptz NOT NULL DEFAULT clock_timestamp()
)
"""


async def _record(name: str) -> None:
    async with context.current().pool.connection() as conn:
        await conn.execute(
            "INSERT INTO job_test_log (name, attempt, pid) VALUES (%s, %s, %s)",
            (name, current_attempt(), os.getpid()),
        )


@entrypoint("test.record")
async def record(payload: dict[str, Any]) -> None:
    await _record(payload["name"])


@entrypoint("test.flaky")
async def flaky(payload: dict[str, Any]) -> None:
    await _record(payload["name"])
    if current_attempt() < payload["fail_times"]:
        raise Retry(timedelta(milliseconds=50), reason="flaky on purpose")


@entrypoint("test.slow")
async def slow(payload: dict[str, Any]) -> None:
    await _record(payload["name"] + ":started")
    await asyncio.sleep(payload["seconds"])
    await _record(payload["name"] + ":done")


if (
    __name__ == "__main__"
):  # a worker process for the kill test: python -m tests.jobs.sample_tasks URL
    from wacrm.jobs.worker import run_worker

    async def main() -> None:
        await run_worker(
            sys.argv[1], concurrency=4, stop=asyncio.Event(), heartbeat_timeout=timedelta(seconds=2)
        )

    asyncio.run(main())
