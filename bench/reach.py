"""Reach: contact import speed (CSV of N rows checked and written, 10% merging with existing
customers), as `wacrm customer import` does it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
from psycopg.rows import dict_row

from bench import env
from bench.report import row

SIZES = {"full": 100_000, "quick": 20_000, "tiny": 200}


def contacts_csv(rows: int) -> bytes:
    """name;phone;labels;opt_in with German mobile numbers written nationally (default country DE)."""
    lines = ["name;phone;labels;opt_in"]
    for n in range(rows):
        number = f"0151 {n // 10000:04d}{n % 10000:04d}"
        lines.append(
            f"Customer {n};{number};{'vip' if n % 7 == 0 else ''};{'yes' if n % 3 else ''}"
        )
    return ("\n".join(lines) + "\n").encode()


async def _import(url: str, rows: int) -> dict[str, Any]:
    from wacrm.accounts.service import create_user
    from wacrm.agents.service import create_agent
    from wacrm.agents.tables import AgentTables
    from wacrm.contacts import csvfile
    from wacrm.contacts import service as contacts

    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        user = await create_user(conn, email="bench@example.com", name="Bench", role="agent")
        agent = await create_agent(conn, created_by=user["id"], user_id=user["id"])
        tables = AgentTables(agent["id"], agent["agent_prefix"])
        existing = rows // 10
        await conn.execute(
            tables.query(
                """INSERT INTO {customers} (name, phone)
                   SELECT 'Known ' || n, '+49151' || lpad((n / 10000)::text, 4, '0') || lpad((n %% 10000)::text, 4, '0')
                   FROM generate_series(0, %s - 1) n"""
            ),
            (existing,),
        )
        data = contacts_csv(rows)
        started = time.perf_counter()
        parsed = csvfile.parse(data, country="DE")
        checked = time.perf_counter()
        counts = await contacts.write_contacts(conn, tables=tables, contacts=parsed.contacts)
        written = time.perf_counter()
        cur = await conn.execute(tables.query("SELECT count(*) AS n FROM {customers}"))
        total = (await cur.fetchone())["n"]  # type: ignore[index]
    return {
        "rows": rows,
        "errors": parsed.error_rows,
        "check_seconds": round(checked - started, 2),
        "write_seconds": round(written - checked, 2),
        "seconds": round(written - started, 2),
        "created": counts["created"],
        "merged": counts["merged"],
        "customers_after": total,
        "bytes": len(data),
    }


def run(server: env.Server, size_name: str = "full") -> dict[str, Any]:
    rows = SIZES[size_name]
    with server.database("reach") as url:
        r = asyncio.run(_import(url, rows))
    r["correct"] = r["errors"] == 0 and r["customers_after"] == rows and r["merged"] == rows // 10
    r["rows_per_second"] = round(rows / r["seconds"]) if r["seconds"] else None
    r["rows"] = [
        row(
            f"Contact import of {rows:,} CSV rows (check + write, 10% merged)",
            r["seconds"],
            "s",
            60,
            "<=",
            note=f"check {r['check_seconds']} s, write {r['write_seconds']} s; "
            f"{r['created']:,} new, {r['merged']:,} merged; correct: {r['correct']}",
        ),
        row("Contact import rate", r["rows_per_second"], "rows/s", None, None),
    ]
    return r
