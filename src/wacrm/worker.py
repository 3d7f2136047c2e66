"""The worker's composition root (as `wacrm.app` is the web's): every feature's tasks, the job
worker and the webhook journal processor, for `wacrm worker` and `wacrm serve`'s in-process worker.

`wacrm.jobs` is infrastructure and imports no feature: a feature registers its job handlers,
periodic tasks and stop hooks in its own `tasks.py`, and `load_tasks()` here imports those modules.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import pkgutil
from contextlib import AsyncExitStack
from datetime import timedelta

from fastapi import FastAPI

import wacrm
from wacrm.config import Settings, get_settings
from wacrm.inbound.consumer import run_processor
from wacrm.jobs import worker as jobs_worker
from wacrm.security import crypto

log = logging.getLogger(__name__)


def load_tasks() -> list[str]:
    """Import every `wacrm.<feature>.tasks` module, which registers that feature's tasks."""
    loaded = []
    for info in pkgutil.iter_modules(wacrm.__path__):
        if not info.ispkg:
            continue
        name = f"wacrm.{info.name}.tasks"
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
            loaded.append(name)
    return loaded


def _in_use(settings: Settings | None) -> Settings:
    """The worker's settings (the environment's when none are given), its secret key in use."""
    settings = settings or get_settings()
    crypto.use_key(settings.effective_secret_key)
    return settings


async def run_worker(
    database_url: str,
    *,
    concurrency: int,
    stop: asyncio.Event,
    heartbeat_timeout: timedelta = timedelta(seconds=30),
    settings: Settings | None = None,
) -> None:
    """The job worker with every feature's tasks, until `stop` is set."""
    settings = _in_use(settings)
    load_tasks()
    await jobs_worker.run_worker(
        database_url,
        concurrency=concurrency,
        stop=stop,
        heartbeat_timeout=heartbeat_timeout,
        settings=settings,
    )


async def run_all(
    database_url: str,
    *,
    concurrency: int,
    stop: asyncio.Event,
    heartbeat_timeout: timedelta = timedelta(seconds=30),
    settings: Settings | None = None,
) -> None:
    """The job worker and a journal processor, until `stop` is set (both survive outages)."""
    settings = _in_use(settings)
    await asyncio.gather(
        run_worker(
            database_url,
            concurrency=concurrency,
            stop=stop,
            heartbeat_timeout=heartbeat_timeout,
            settings=settings,
        ),
        run_processor(
            database_url,
            stop,
            listen_url=settings.session_url(database_url),
            pooled=settings.pooled,
            memory_mib=settings.db_backend_memory_mib,
            shards=settings.journal_processors,
        ),
    )


async def start_inprocess_worker(app: FastAPI, stack: AsyncExitStack) -> None:
    """Startup hook of `wacrm serve` (WACRM_RUN_WORKER): the worker and a journal processor beside
    the web app, stopped (running jobs finish) when the app shuts down."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_all(app.state.database_url, concurrency=8, stop=stop, settings=app.state.settings),
        name="wacrm-inprocess-worker",
    )

    async def shutdown() -> None:
        stop.set()
        try:
            await asyncio.wait_for(task, 15)
        except Exception:
            log.exception("in-process worker did not stop cleanly")

    stack.push_async_callback(shutdown)
