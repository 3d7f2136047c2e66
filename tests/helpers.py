"""Helpers shared by tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

DATA = Path(__file__).parent / "data"
SEED_SQL = (DATA / "seed_schema.sql").read_text()
WEBHOOK_URL = (
    "http://testserver/webhooks/whatsapp"  # settings.webhook_url of the `settings` fixture
)


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


async def make_admin(conn: Any, email: str = "admin@example.com") -> dict[str, Any]:
    """An admin user (no password) with an API token: {"user_id", "token"}."""
    from wacrm.accounts.service import create_user
    from wacrm.accounts.tokens import create_token

    user = await create_user(conn, email=email, name=email.split("@")[0], role="admin")
    token = await create_token(conn, user_id=user["id"], name="tests")
    return {"user_id": user["id"], "token": token}


async def make_agent_user(
    conn: Any, email: str, *, role: str = "agent", prefix: str | None = None
) -> dict[str, Any]:
    """A user linked to a new agent (tables provisioned) with an API token:
    {"user_id", "agent" (row dict), "token", "tables": AgentTables}."""
    from wacrm.accounts.service import create_user
    from wacrm.accounts.tokens import create_token
    from wacrm.agents.service import create_agent
    from wacrm.agents.tables import AgentTables

    user = await create_user(conn, email=email, name=email.split("@")[0], role=role)
    agent = await create_agent(conn, created_by=user["id"], user_id=user["id"], prefix=prefix)
    token = await create_token(conn, user_id=user["id"], name="tests")
    return {
        "user_id": user["id"],
        "agent": agent,
        "token": token,
        "tables": AgentTables(agent["id"], agent["agent_prefix"]),
    }


async def configure_sandbox_number(
    conn: Any, user_id: Any, number: dict[str, str], **settings: Any
) -> dict[str, Any]:
    """Give a user the WhatsApp number the sandbox registered (`number` as in
    tests.sandbox_fixture.DEFAULT_NUMBER); `settings` are more arguments of numbers.configure."""
    from wacrm.numbers import service as numbers

    return await numbers.configure(
        conn,
        webhook_url=WEBHOOK_URL,
        user_id=user_id,
        **{
            "whatsapp_number": number["display_phone_number"],
            "phone_number_id": number["phone_number_id"],
            "business_account_id": number["waba_id"],
            "access_token": number["access_token"],
            "app_secret": number["app_secret"],
            "verify_token": "verify-me",
            **settings,
        },
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def resolve_customer(
    conn: Any, *, tables: Any, wa_id: str | None, bsuid: str | None = None
) -> int:
    """The customer of a sender, made as ingest makes it (its number's lock, then the one identity
    statement `customers.resolve_senders`); the customer's id. Runs in a transaction."""
    from wacrm.customers import service as customers

    async with conn.transaction():
        senders = customers.fold_senders([(wa_id, bsuid, None, None, None)])
        await customers.lock_phones(conn, senders.lock_keys(tables))
        await customers.resolve_senders(conn, tables, senders)
        cid = await customers.find_customer(conn, tables=tables, wa_id=wa_id, bsuid=bsuid)
    assert cid is not None
    return cid


def total_of(items: list[dict[str, Any]]) -> Any:
    """The sum of an order's items' totals (what its total_amount must equal)."""
    from decimal import Decimal

    return sum((Decimal(i["total"]) for i in items), Decimal(0))
