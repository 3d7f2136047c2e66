"""Creating agents: the `agents` row and its tables, in one transaction."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg import AsyncConnection, sql

from wacrm.agents.tables import AgentTables, validate_prefix


class AgentError(ValueError):
    """An agent cannot be created or changed as asked (the message says why)."""


async def _table_exists(conn: AsyncConnection[Any], name: str) -> bool:
    cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (f"public.{name}",))
    row = await cur.fetchone()
    return bool(row and row["present"])


async def create_agent(
    conn: AsyncConnection[Any],
    *,
    created_by: UUID,
    user_id: UUID | None = None,
    prefix: str | None = None,
) -> dict[str, Any]:
    """Insert an agent (the connection must use dict rows) and provision its tables (or take over existing tables for `prefix`).

    Runs inside the caller's transaction if there is one, else in its own: a failure leaves
    neither the row nor any table behind.
    """
    if prefix is not None:
        validate_prefix(prefix)
    async with conn.transaction():
        if user_id is not None:
            cur = await conn.execute("SELECT 1 FROM users WHERE id = %s", (user_id,))
            if await cur.fetchone() is None:
                raise AgentError(f"no user with id {user_id}")
            cur = await conn.execute("SELECT agent_prefix FROM agents WHERE user_id = %s", (user_id,))
            linked = await cur.fetchone()
            if linked is not None:
                raise AgentError(f"this user is already linked to agent {linked['agent_prefix']}")
        if prefix is not None:
            cur = await conn.execute("SELECT 1 FROM agents WHERE agent_prefix = %s", (prefix,))
            if await cur.fetchone() is not None:
                raise AgentError(f"an agent with prefix {prefix} already exists")
        takeover_version = 0
        if prefix is not None and await _table_exists(conn, f"{prefix}_customers"):
            takeover_version = 2 if await _table_exists(conn, f"{prefix}_orders_history") else 1
        try:
            cur = await conn.execute(
                """
                WITH n AS (SELECT nextval('agents_id_seq') AS id)
                INSERT INTO agents (id, agent_prefix, user_id, created_by, schema_version)
                SELECT n.id, coalesce(%(prefix)s, 'agt_' || n.id), %(user_id)s, %(created_by)s, %(version)s
                FROM n
                RETURNING *
                """,
                {"prefix": prefix, "user_id": user_id, "created_by": created_by, "version": takeover_version},
            )
        except psycopg.errors.UniqueViolation as exc:
            raise AgentError("an agent with this prefix or user already exists") from exc
        agent = await cur.fetchone()
        assert agent is not None
        agent_id = agent["id"]
        tables = AgentTables(agent_id, agent["agent_prefix"])
        if takeover_version:
            await conn.execute(
                tables.query(
                    "ALTER TABLE {customers} ALTER COLUMN agent_id SET DEFAULT {aid};"
                    "UPDATE {customers} SET agent_id = {aid} WHERE agent_id IS DISTINCT FROM {aid}",
                    aid=sql.Literal(agent_id),
                )
            )
        await conn.execute("SELECT wacrm_upgrade_agent(%s)", (agent_id,))
        cur = await conn.execute("SELECT * FROM agents WHERE id = %s", (agent_id,))
        row = await cur.fetchone()
        assert row is not None
        return dict(row)
