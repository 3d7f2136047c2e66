"""Shared pieces of the CLI: database resolution, printing, clean failures."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import psycopg
import typer
from psycopg.rows import dict_row
from rich.console import Console

from wacrm.config import Settings, get_settings
from wacrm.db.embedded import EmbeddedDatabaseError, release
from wacrm.db.migrate import DatabaseAheadError, MigrationError, migrate
from wacrm.db.pool import connect_kwargs
from wacrm.db.runtime import DatabaseUnavailableError, check_reachable, resolve_database_url

console = Console(stderr=True)
T = TypeVar("T")

_server_handles: list[Any] = []


def fail(message: str, code: int = 1) -> NoReturn:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def cli_settings() -> Settings:
    """The settings of this command run (the environment's): commands pass them to services."""
    return get_settings()


def database_url(settings: Settings | None = None, *, migrate_first: bool = True) -> str:
    """Resolve (and start, if embedded) the database, check it, and migrate it; exit cleanly on failure."""
    settings = settings or cli_settings()
    try:
        url, handle = resolve_database_url(settings)
        if handle is not None:
            _server_handles.append(handle)
        check_reachable(url)
        if migrate_first:
            direct = settings.session_url(url)  # the migrations' lock wants a session of its own
            migrate(direct)
            from wacrm.numbers.legacy import encrypt_plaintext_secrets

            if encrypted := encrypt_plaintext_secrets(direct):
                console.print(f"encrypted the plain-text WhatsApp secrets of {encrypted} number(s)")
    except (DatabaseUnavailableError, EmbeddedDatabaseError) as exc:
        fail(str(exc), 2)
    except DatabaseAheadError as exc:
        fail(str(exc), 3)
    except MigrationError as exc:
        fail(str(exc), 4)
    return url


def release_embedded() -> None:
    """This command is done with the embedded server: stopped unless another process uses it."""
    while _server_handles:
        release(_server_handles.pop())


def run_with_connection(fn: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
    """Run `fn(conn)` on one autocommit async connection (dict rows) to the resolved database."""
    url = database_url()

    async def runner() -> T:
        async with await open_connection(url) as conn:
            return await fn(conn)

    return asyncio.run(runner())


async def open_connection(url: str) -> psycopg.AsyncConnection[Any]:
    """An autocommit async connection (dict rows), as the CLI's commands use."""
    return await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True, **connect_kwargs(cli_settings().pooled)
    )


def emit(data: dict[str, Any], as_json: bool, human: str) -> None:
    """Print JSON (for scripts) or a human sentence."""
    if as_json:
        sys.stdout.write(json.dumps(data, default=str) + "\n")
    else:
        console.print(human)
