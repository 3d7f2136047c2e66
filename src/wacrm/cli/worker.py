"""`wacrm worker`: run background jobs (sends, media downloads, notifications) and the webhook journal."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta

import typer

from wacrm.cli.common import console, database_url


def worker(
    concurrency: int = typer.Option(16, min=2, help="Jobs run at once by this process."),
    heartbeat_timeout: float = typer.Option(
        30.0,
        min=1.0,
        help="Seconds without a heartbeat after which a running job counts as abandoned.",
    ),
) -> None:
    """Run a job worker and journal processor (several may run, on any machine reaching the database)."""
    from wacrm.worker import run_all

    url = database_url()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        console.print(
            f"[bold green]wacrm worker[/] running (concurrency {concurrency}); Ctrl-C stops it"
        )
        await run_all(
            url,
            concurrency=concurrency,
            stop=stop,
            heartbeat_timeout=timedelta(seconds=heartbeat_timeout),
        )

    asyncio.run(main())
