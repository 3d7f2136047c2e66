"""Web imports: the uploaded file is checked and kept with its preview; confirmed, a job writes it
all or nothing and records its progress (the page polls it)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from wacrm.agents.tables import AgentTables
from wacrm.contacts import csvfile
from wacrm.contacts import service as contacts
from wacrm.errors import AppError
from wacrm.i18n.labels import N_
from wacrm.i18n.text import Text
from wacrm.jobs import enqueue

IMPORT_JOB = "contacts.import"
# Why an import failed, by code (kept with its values: shown in the viewer's language).
FAILURES = {"not_written": N_("nothing was imported: {error}")}
PREVIEW_ROWS = 10
ERRORS_KEPT = 200


class ImportError_(AppError):  # noqa: N801 - ImportError is a builtin
    """An import that cannot be checked or written (422 unless said); `field` is the input."""

    status = 422


async def check_upload(
    conn: AsyncConnection[Any],
    *,
    agent_id: int,
    filename: str,
    data: bytes,
    country: str | None,
    created_by: UUID | None,
) -> dict[str, Any]:
    """Read the whole file (in a thread: CPU work) and keep it with its preview; nothing is written."""
    if not data:
        raise ImportError_(Text("choose a CSV file"), field="file")
    try:
        parsed = await asyncio.to_thread(csvfile.parse, data, country=country)
    except csvfile.CsvError as exc:
        raise ImportError_(str(exc), field="file") from None
    preview = [asdict(c) for c in parsed.contacts[:PREVIEW_ROWS]]
    cur = await conn.execute(
        """INSERT INTO contact_imports (agent_id, filename, data, country, total_rows, valid_rows,
             error_rows, errors, preview, created_by)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING *""",
        (
            agent_id,
            filename[:200],
            data,
            country,
            parsed.total_rows,
            len(parsed.contacts),
            parsed.error_rows,
            json.dumps(parsed.errors[:ERRORS_KEPT]),
            json.dumps(
                {
                    "rows": preview,
                    "duplicates": parsed.duplicates,
                    "columns": parsed.columns,
                    "ignored": parsed.ignored_columns,
                }
            ),
            created_by,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return dict(row)


async def get_import(
    conn: AsyncConnection[Any], *, agent_id: int, import_id: int
) -> dict[str, Any] | None:
    cur = await conn.execute(
        """SELECT id, agent_id, filename, country, skip_invalid, state, total_rows, valid_rows,
             error_rows, errors, preview, done_rows, created_count, merged_count, failure,
             failure_code, failure_params,
             created_at, finished_at FROM contact_imports WHERE id = %s AND agent_id = %s""",
        (import_id, agent_id),
    )
    row = await cur.fetchone()
    return dict(row) if row else None


async def recent(
    conn: AsyncConnection[Any], *, agent_id: int, limit: int = 10
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        """SELECT id, filename, state, total_rows, valid_rows, error_rows, created_count,
             merged_count, created_at FROM contact_imports WHERE agent_id = %s
           ORDER BY id DESC LIMIT %s""",
        (agent_id, limit),
    )
    return [dict(r) for r in await cur.fetchall()]


async def start(
    conn: AsyncConnection[Any], *, agent_id: int, import_id: int, skip_invalid: bool
) -> None:
    """Queue the writing of a checked import (refused while rows have errors, unless skipped)."""
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT state, error_rows, valid_rows FROM contact_imports WHERE id = %s AND agent_id = %s FOR UPDATE",
            (import_id, agent_id),
        )
        row = await cur.fetchone()
        if row is None:
            raise ImportError_(Text("no import {import_id}", import_id=import_id), status=404)
        if row["state"] != "previewed":
            raise ImportError_(
                Text("this import is already {state}", state=row["state"]), status=409
            )
        if row["error_rows"] and not skip_invalid:
            raise ImportError_(
                Text(
                    "{error_rows} rows have errors: fix the file and upload it again, or tick 'skip the rows with errors'",
                    error_rows=row["error_rows"],
                ),
                field="skip_invalid",
            )
        if not row["valid_rows"]:
            raise ImportError_(Text("the file has no valid rows to import"))
        await conn.execute(
            "UPDATE contact_imports SET state = 'queued', skip_invalid = %s WHERE id = %s",
            (skip_invalid, import_id),
        )
        await enqueue(conn, IMPORT_JOB, {"import_id": import_id})


_RUN_LOCK = 20_091  # advisory lock class of import runs (with the import's id)


async def run(pool: Any, *, import_id: int) -> None:
    """Write one queued import (the job's body): progress on its own connection, rows in one transaction.

    Restart-safe: a run again after its worker died finds the import 'running' and writes it (the
    dead run's transaction was rolled back); a run while another is alive finds its lock taken
    and leaves; 'done' commits with the rows, so a finished import is never written twice."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """UPDATE contact_imports i SET state = 'running' FROM agents a
               WHERE i.id = %s AND i.state IN ('queued', 'running') AND a.id = i.agent_id
               RETURNING i.data, i.country, i.agent_id, a.agent_prefix""",
            (import_id,),
        )
        job = await cur.fetchone()
    if job is None:
        return
    parsed = await asyncio.to_thread(csvfile.parse, bytes(job["data"]), country=job["country"])
    async with pool.connection() as progress_conn, pool.connection() as conn:

        async def progress(done: int) -> None:
            await progress_conn.execute(
                "UPDATE contact_imports SET done_rows = %s WHERE id = %s", (done, import_id)
            )

        try:
            async with conn.transaction():
                cur = await conn.execute(
                    "SELECT pg_try_advisory_xact_lock(%s, %s) AS mine", (_RUN_LOCK, import_id)
                )
                mine = await cur.fetchone()
                if not (mine and mine["mine"]):
                    return  # another run of this import is writing it
                counts = await contacts.write_contacts(
                    conn,
                    tables=AgentTables(job["agent_id"], job["agent_prefix"]),
                    contacts=parsed.contacts,
                    progress=progress,
                )
                await conn.execute(
                    """UPDATE contact_imports SET state = 'done', finished_at = now(), data = NULL,
                         created_count = %s, merged_count = %s, done_rows = valid_rows
                       WHERE id = %s""",
                    (counts["created"], counts["merged"], import_id),
                )
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:450]
            why = Text(FAILURES["not_written"], error=error)
            await progress_conn.execute(
                """UPDATE contact_imports SET state = 'failed', done_rows = 0, finished_at = now(),
                     failure = %s, failure_code = 'not_written', failure_params = %s
                   WHERE id = %s""",
                (why.english(), json.dumps(why.values), import_id),
            )
            raise


def failure_message(imp: dict[str, Any]) -> Text | str | None:
    """Why an import failed, in the viewer's language (imports failed before codes: English)."""
    code = imp.get("failure_code")
    if code in FAILURES:
        return Text(FAILURES[code], **(imp.get("failure_params") or {}))
    return imp.get("failure")
