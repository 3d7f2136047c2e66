"""The worker (jobs and the webhook journal) that `wacrm serve` runs beside the web app when WACRM_RUN_WORKER is true."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

from fastapi import FastAPI

log = logging.getLogger(__name__)


async def start_inprocess_worker(app: FastAPI, stack: AsyncExitStack) -> None:
    """Start a worker task now; stop it (letting running jobs finish) when the app shuts down."""
    from wacrm.inbound.consumer import run_processor
    from wacrm.jobs.worker import run_worker

    stop = asyncio.Event()
    task = asyncio.create_task(
        run_worker(app.state.database_url, concurrency=8, stop=stop, settings=app.state.settings),
        name="wacrm-inprocess-worker",
    )
    journal = asyncio.create_task(
        run_processor(
            app.state.database_url,
            stop,
            listen_url=app.state.settings.session_url(app.state.database_url),
        ),
        name="wacrm-journal-processor",
    )

    async def shutdown() -> None:
        stop.set()
        for name, t in (("worker", task), ("journal processor", journal)):
            try:
                await asyncio.wait_for(t, 15)
            except Exception:
                log.exception("in-process %s did not stop cleanly", name)

    stack.push_async_callback(shutdown)
