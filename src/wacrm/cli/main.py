"""Top-level commands: serve, migrate; feature packages add their own groups."""

from __future__ import annotations

import logging

import typer

from wacrm.cli.common import console, database_url, fail
from wacrm.config import Settings, get_settings
from wacrm.logs import configure_logging
from wacrm.security import crypto

app = typer.Typer(help="iDesign WhatsApp CRM", no_args_is_help=True, add_completion=False)
log = logging.getLogger("wacrm")


@app.callback()
def _setup() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    crypto.use_key(settings.effective_secret_key)


@app.command()
def migrate(
    status_only: bool = typer.Option(False, "--status", help="Only show what would be applied."),
) -> None:
    """Apply pending database migrations (and bring every agent's tables up to date)."""
    from wacrm.db.migrate import status, unregistered_agent_tables

    url = database_url(migrate_first=False)
    if status_only:
        pending, ahead = status(url)
        console.print(f"pending: {[f'{m.version:04d}_{m.name}' for m in pending] or 'none'}")
        if ahead:
            fail(f"database has unknown migrations {ahead}", 3)
        return
    url = database_url(migrate_first=True)
    pending, _ = status(url)
    console.print("database is up to date" if not pending else f"still pending: {pending}")
    orphans = unregistered_agent_tables(url)
    if orphans:
        console.print(
            f"[yellow]agent tables without an agents row (left as they are): {', '.join(orphans)}; "
            "adopt them with `wacrm agent create --user EMAIL --prefix PREFIX`[/]"
        )


@app.command()
def serve(
    host: str = typer.Option(
        None, help="Interface to listen on (default WACRM_HOST or 127.0.0.1)."
    ),
    port: int = typer.Option(None, help="Port (default WACRM_PORT or 8000)."),
    workers: int = typer.Option(1, min=1, help="Web processes."),
    demo: bool = typer.Option(
        False, "--demo", help="Also run a local WhatsApp sandbox with a demo agent and customers."
    ),
    sandbox_port: int = typer.Option(8900, help="The demo sandbox's port (with --demo)."),
    forwarded_allow_ips: str = typer.Option(
        None,
        "--forwarded-allow-ips",
        help="Proxies trusted for X-Forwarded-For/-Proto: comma-separated IPs or networks, or '*'"
        " (default WACRM_FORWARDED_ALLOW_IPS or 127.0.0.1).",
    ),
) -> None:
    """Run the CRM: database (embedded if no DATABASE_URL), migrations, web app and a job worker."""
    import os

    import uvicorn

    from wacrm.cli.common import release_embedded
    from wacrm.cli.serving import end_as_signalled, exit_on_sigterm, print_summary_when_ready
    from wacrm.db.embedded import LOG_NAME

    settings = get_settings()
    exit_on_sigterm()
    try:
        url = database_url(settings)
        os.environ["DATABASE_URL"] = url  # web processes started by uvicorn read it
        lines = _bootstrap(url, settings)
        host = host or settings.host
        port = port or settings.port
        if demo:
            from wacrm.demo import demo_summary, start_demo

            sandbox = start_demo(
                url, settings, crm_url=f"http://{host}:{port}", sandbox_port=sandbox_port
            )
            lines.update(demo_summary(settings, sandbox.base_url))
        if not settings.database_url:
            data = settings.data_dir
            lines["Database"] = f"embedded, in {data / 'pgdata'} (its log: {data / LOG_NAME})"
        print_summary_when_ready(f"http://{host}:{port}", lines)
        uvicorn.run(
            "wacrm.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            # uvicorn's start-up lines give way to the summary; its warnings and errors remain
            log_level="warning"
            if settings.log_level.upper() == "INFO"
            else settings.log_level.lower(),
            access_log=False,
            timeout_graceful_shutdown=10,
            proxy_headers=True,
            forwarded_allow_ips=forwarded_allow_ips or settings.forwarded_allow_ips,
        )
    finally:
        release_embedded()  # stops it unless another CRM process still uses it
        end_as_signalled()


@app.command()
def check(
    skip_meta: bool = typer.Option(
        False, "--skip-meta", help="Do not ask Meta about the numbers (e.g. before every start)."
    ),
    strict: bool = typer.Option(False, "--strict", help="Warnings fail too."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Check this server before it serves: settings, secret key, database, migrations, public URL,
    proxy, media folder and each number at Meta. Exits 1 on a problem (docs/going-live.md)."""
    import json
    import sys

    from wacrm.config import Settings
    from wacrm.db.runtime import resolve_database_url
    from wacrm.numbers.checks import worst
    from wacrm.ops import doctor

    settings, loaded = doctor.settings_or_problem(Settings)
    found = [loaded]
    if settings is not None:
        url, handle = resolve_database_url(settings)
        try:
            found += doctor.run_all(settings, url, meta=not skip_meta)
        finally:
            if handle is not None:
                handle.cleanup()
    result = worst(found)
    if as_json:
        payload = {"status": result, "checks": [c.as_dict() for c in found]}
        sys.stdout.write(json.dumps(payload) + "\n")
    else:
        marks = {"ok": "[green]✓[/]", "warning": "[yellow]![/]", "problem": "[red]✗[/]"}
        for c in found:
            console.print(f"{marks[c.status]} [bold]{c.title}[/]: {c.detail}", highlight=False)
            if c.fix:
                console.print(f"    what to do: {c.fix}", highlight=False)
        console.print(f"{result}: {sum(c.status == 'problem' for c in found)} problem(s)")
    if result == "problem" or (strict and result == "warning"):
        raise typer.Exit(1)


def _bootstrap(url: str, settings: Settings) -> dict[str, str]:
    """First-start work that needs the database (e.g. the first admin); features register it here.
    Each hook may return lines for the start-up summary ({label: text})."""
    lines: dict[str, str] = {}
    for hook in BOOTSTRAP_HOOKS:
        lines.update(hook(url, settings) or {})
    return lines


BOOTSTRAP_HOOKS: list = []


def _register_bootstrap_hooks() -> None:
    from wacrm.accounts.bootstrap import bootstrap_admin

    BOOTSTRAP_HOOKS.append(bootstrap_admin)


_register_bootstrap_hooks()


def _register_feature_commands() -> None:
    """Command groups of the feature packages (each a typer.Typer in its package's cli.py)."""
    from wacrm.accounts.cli import register as register_accounts

    register_accounts(app)
    from wacrm.cli.worker import worker

    app.command("worker")(worker)
    from wacrm.sandbox.cli import sandbox

    app.command("sandbox")(sandbox)
    from wacrm.inbound.cli import webhooks

    app.add_typer(webhooks, name="webhooks")
    from wacrm.ops.cli import register as register_data_safety

    register_data_safety(app)
    from wacrm.contacts.cli import register as register_contacts

    register_contacts(app)


_register_feature_commands()


def main() -> None:
    app()
