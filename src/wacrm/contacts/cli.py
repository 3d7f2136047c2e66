"""`wacrm customer import FILE.csv --agent N`: preview, then write all or nothing, with progress."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from wacrm.cli.common import console, fail, run_with_connection


def _errors_table(errors: list[dict[str, Any]], shown: int = 20) -> Table:
    table = Table("line", "column", "value", "problem", title="Rows with errors")
    for e in errors[:shown]:
        table.add_row(str(e["line"]), e["column"], e["value"], e["message"])
    return table


def import_customers(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV file"),
    agent: int = typer.Option(..., "--agent", help="the agent (workspace) id"),
    country: str = typer.Option(
        "",
        "--country",
        help="default country (ISO code such as DE) for numbers without +CC; "
        "the workspace's default country when omitted",
    ),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="import the valid rows even when some rows have errors"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="only check the file; write nothing"),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Import customers (name, phone, bsuid, labels, opt_in) from a CSV, merging by phone/BSUID.

    Nothing is written when a row has an error (unless --skip-invalid) or when anything fails.
    """
    from wacrm.agents.service import AgentError, get_agent
    from wacrm.agents.tables import AgentTables
    from wacrm.contacts import csvfile
    from wacrm.contacts import service as contacts

    data = path.read_bytes()
    started = time.monotonic()

    async def go(conn: Any) -> dict[str, Any]:
        try:
            row = await get_agent(conn, agent_id=agent)
        except AgentError as exc:
            fail(str(exc))
        region = country.strip().upper() or row.get("default_country")
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=as_json,
        ) as bar:
            reading = bar.add_task("Checking rows", total=None)
            try:
                parsed = csvfile.parse(
                    data, country=region, progress=lambda n: bar.update(reading, completed=n)
                )
            except csvfile.CsvError as exc:
                fail(str(exc))
            bar.update(reading, total=parsed.total_rows, completed=parsed.total_rows)
            result: dict[str, Any] = {
                "rows": parsed.total_rows,
                "valid": len(parsed.contacts) + parsed.duplicates,
                "error_rows": parsed.error_rows,
                "duplicates_merged": parsed.duplicates,
                "errors": parsed.errors[:100],
                "created": 0,
                "merged": 0,
                "written": False,
            }
            if parsed.error_rows and not skip_invalid or dry_run or not parsed.contacts:
                return result
            writing = bar.add_task("Writing customers", total=len(parsed.contacts))
            counts = await contacts.write_contacts(
                conn,
                tables=AgentTables(agent, row["agent_prefix"]),
                contacts=parsed.contacts,
                progress=lambda n: bar.update(writing, completed=n),
            )
        return {**result, **counts, "written": True}

    result = run_with_connection(go)
    result["seconds"] = round(time.monotonic() - started, 2)
    _report(result, as_json=as_json, dry_run=dry_run, skip_invalid=skip_invalid)


def _report(result: dict[str, Any], *, as_json: bool, dry_run: bool, skip_invalid: bool) -> None:
    """Print the import's result; exit non-zero when nothing was imported that should have been."""
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        if result["errors"]:
            console.print(_errors_table(result["errors"]))
        console.print(
            f"{result['rows']} rows: {result['valid']} valid, {result['error_rows']} with errors, "
            f"{result['duplicates_merged']} duplicates merged in the file."
        )
        if result["written"]:
            console.print(
                f"Imported in {result['seconds']} s: {result['created']} new customers, "
                f"{result['merged']} merged with existing ones."
            )
    if not result["written"] and not dry_run:
        if result["error_rows"] and not skip_invalid:
            fail("nothing was imported: fix the rows above, or pass --skip-invalid")
        if not result["valid"]:
            fail("nothing to import: the file has no valid rows")


def register(app: typer.Typer) -> None:
    """`wacrm customer import`, beside `wacrm customer erase` (one `customer` group, wacrm.ops.cli)."""
    from wacrm.ops.cli import customer_app

    customer_app.command("import")(import_customers)
