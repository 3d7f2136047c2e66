"""Helpers shared by tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

DATA = Path(__file__).parent / "data"
SEED_SQL = (DATA / "seed_schema.sql").read_text()


def columns(url: str, table: str) -> dict[str, dict[str, Any]]:
    """name -> {type, nullable, default, generated} read back from information_schema."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            SELECT column_name, data_type, udt_name, is_nullable, column_default,
                   is_generated, generation_expression
            FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name = %s
            """,
            (table,),
        ).fetchall()
    return {
        r[0]: {
            "type": r[2] if r[1] == "USER-DEFINED" else r[1],
            "nullable": r[3] == "YES",
            "default": r[4],
            "generated": r[5] == "ALWAYS",
            "expression": r[6],
        }
        for r in rows
    }


def constraints(url: str, table: str) -> set[tuple[str, str]]:
    """(type, definition) of every constraint of a table, with the table prefix stripped."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            SELECT contype, pg_get_constraintdef(c.oid)
            FROM pg_constraint c WHERE conrelid = %s::regclass
            """,
            (f"public.{table}",),
        ).fetchall()
    return {(r[0], r[1]) for r in rows}


async def make_user(conn: Any, email: str = "admin@example.com", role: str = "admin") -> Any:
    cur = await conn.execute(
        "INSERT INTO users (name, email, role) VALUES (%s, %s, %s) RETURNING id",
        (email.split("@")[0], email, role),
    )
    row = await cur.fetchone()
    return row["id"]
