"""`wacrm webhooks`: list the raw webhook journal, process what waits in it, replay what failed."""

from __future__ import annotations

from typing import Any

import typer

from wacrm.cli.common import cli_settings, console, emit, fail, run_with_connection

webhooks = typer.Typer(help="The raw webhook journal: list, process, replay.", no_args_is_help=True)


@webhooks.command("process")
def process(
    once: bool = typer.Option(
        False, "--once", help="Process what waits now and exit (else: keep processing)."
    ),
) -> None:
    """Run a journal processor alone: deferred webhooks become customers and messages.

    Every `wacrm worker` (and `wacrm serve` with its in-process worker) already runs one; this
    runs one without the job queue, e.g. a dedicated ingest process.
    """
    import asyncio
    import signal

    from wacrm.cli.common import database_url
    from wacrm.inbound.consumer import drain, run_processor

    settings = cli_settings()
    url = database_url(settings)

    async def main() -> int:
        if once:
            from wacrm.db.pool import create_pool

            pool = create_pool(url, max_size=2, min_size=1, pooled=settings.pooled)
            await pool.open()
            try:
                return await drain(pool)
            finally:
                await pool.close()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        console.print("[bold green]journal processor[/] running; Ctrl-C stops it")
        await run_processor(
            url,
            stop,
            listen_url=settings.session_url(url),
            pooled=settings.pooled,
            memory_mib=settings.db_backend_memory_mib,
            shards=settings.journal_processors,
        )
        return 0

    n = asyncio.run(main())
    if once:
        console.print(f"processed {n} webhook(s) from the journal")


@webhooks.command("replay")
def replay(
    journal_id: int = typer.Option(None, "--id", min=1, help="Replay this journal row."),
    failed: bool = typer.Option(False, "--failed", help="Replay every webhook that failed."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Process journaled webhooks again (after fixing what made them fail); duplicates are not stored twice."""
    if (journal_id is None) == (not failed):
        fail("give exactly one of --id N or --failed", 2)
    from wacrm.inbound import ingest

    async def run(conn: Any) -> list[dict[str, Any]]:
        return await ingest.replay(conn, journal_id=journal_id, failed=failed)

    results = run_with_connection(run)
    if journal_id is not None and not results:
        fail(f"no webhook journal row with id {journal_id}", 1)
    ok = sum(1 for r in results if r["status"] == "processed")
    for r in results:
        if r["status"] != "processed" and not as_json:
            console.print(f"[yellow]#{r['id']} still failing:[/] {r['error']}")
    emit(
        {"results": results, "processed": ok, "failed": len(results) - ok},
        as_json,
        f"replayed {len(results)} webhook(s): {ok} processed, {len(results) - ok} still failing",
    )
    if ok < len(results):
        raise typer.Exit(1)


@webhooks.command("list")
def list_(
    status: str = typer.Option("failed", help="received, processed or failed."),
    limit: int = typer.Option(20, min=1, max=500),
) -> None:
    """Show the newest journal rows of a status (failed by default) with their errors."""
    if status not in ("received", "processed", "failed"):
        fail("--status must be received, processed or failed", 2)
    from wacrm.inbound import journal

    async def run(conn: Any) -> list[dict[str, Any]]:
        return await journal.list_journal(conn, status=status, limit=limit)

    for row in run_with_connection(run):
        console.print(
            f"#{row['id']} {row['received_at']:%Y-%m-%d %H:%M:%S} {row['phone_number_id'] or '-'}"
            f" {row['status']} attempts={row['attempts']} {row['error'] or ''}"
        )
