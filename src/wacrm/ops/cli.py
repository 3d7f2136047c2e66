"""`wacrm agent backup|restore` and `wacrm customer erase`: data safety commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from wacrm.cli.common import cli_settings, emit, fail, run_with_connection

customer_app = typer.Typer(help="Customers of an agent: import, erase.", no_args_is_help=True)


def _media_root() -> Path:
    return Path(cli_settings().data_dir) / "media"


def agent_backup(
    prefix: str = typer.Option(..., "--prefix", help="The agent's table prefix, e.g. agt_3."),
    out: Path = typer.Option(..., "--out", help="The backup file to write (.tar.gz)."),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Back up one agent: its row, its tables, its shared rows and its media files, in one file."""
    from wacrm.agents.tables import InvalidPrefixError
    from wacrm.ops.backup import BackupError, backup_agent

    async def run(conn: Any) -> dict[str, Any]:
        return await backup_agent(conn, prefix=prefix, out=out, media_root=_media_root())

    try:
        manifest = run_with_connection(run)
    except (BackupError, InvalidPrefixError, OSError) as exc:
        fail(str(exc), 1)
    rows = sum(t["rows"] for t in manifest["tables"])
    emit(
        manifest,
        as_json,
        f"backed up {prefix}: {len(manifest['tables'])} tables, {rows} rows, "
        f"{len(manifest['media'])} media files, to {out}",
    )


def agent_restore(
    path: Path = typer.Option(..., "--in", help="A file written by `wacrm agent backup`."),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Restore an agent from a backup (same id and prefix); refused if that agent exists."""
    from wacrm.agents.tables import InvalidPrefixError
    from wacrm.ops.backup import BackupError, restore_agent

    if not path.is_file():
        fail(f"no backup file at {path}", 2)

    async def run(conn: Any) -> dict[str, Any]:
        return await restore_agent(conn, path=path, media_root=_media_root())

    try:
        manifest = run_with_connection(run)
    except (BackupError, InvalidPrefixError) as exc:
        fail(str(exc), 1)
    rows = sum(t["rows"] for t in manifest["tables"])
    emit(
        manifest,
        as_json,
        f"restored agent {manifest['agent_id']} ({manifest['prefix']}): "
        f"{rows} rows, {len(manifest['media'])} media files",
    )


@customer_app.command("erase")
def customer_erase(
    agent_id: int = typer.Option(..., "--agent-id", min=1, help="The agent whose customer it is."),
    customer_id: int = typer.Option(..., "--customer-id", min=1, help="The customer to erase."),
    confirm: bool = typer.Option(
        False, "--confirm", help="Really erase (without it: show what would go)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Erase a customer and their messages, orders, order history, media files and journal copies."""
    from wacrm.agents.tables import AgentTables
    from wacrm.media.store import media_store
    from wacrm.ops.erase import CustomerNotFoundError, erase_customer, erasure_plan

    async def run(conn: Any) -> dict[str, Any]:
        cur = await conn.execute("SELECT agent_prefix FROM agents WHERE id = %s", (agent_id,))
        row = await cur.fetchone()
        if row is None:
            raise CustomerNotFoundError(f"no agent with id {agent_id}")
        tables = AgentTables(agent_id, row["agent_prefix"])
        if not confirm:
            return await erasure_plan(conn, tables=tables, customer_id=customer_id)
        return await erase_customer(
            conn, tables=tables, customer_id=customer_id, store=media_store(cli_settings())
        )

    try:
        result = run_with_connection(run)
    except CustomerNotFoundError as exc:
        fail(str(exc), 1)
    if not confirm:
        emit(
            {k: v for k, v in result.items() if k not in ("phone", "bsuid")} | {"erased": False},
            as_json,
            f"would erase customer {customer_id}: {result['messages']} messages, {result['orders']} "
            f"orders ({result['order_items']} items); add --confirm to erase",
        )
        raise typer.Exit(1)
    emit(
        result | {"erased": True},
        as_json,
        f"erased customer {customer_id}: {result['messages']} messages, {result['orders']} orders, "
        f"{result['media_files']} media files, {result['journal_rows']} journal rows",
    )


def register(app: typer.Typer) -> None:
    """Add `agent backup|restore` to the existing `agent` group and the `customer` group."""
    from wacrm.accounts.cli import agent_app

    agent_app.command("backup")(agent_backup)
    agent_app.command("restore")(agent_restore)
    app.add_typer(customer_app, name="customer")
