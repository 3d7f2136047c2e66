"""Agents: creation (wacrm.agents.provisioning), listing with counts, link/unlink, (de)activate, drop."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg import AsyncConnection, sql

from wacrm.agents.provisioning import (
    PROVISIONING_LOCK,
    AgentError,
    AgentSpec,
    create_agent,
    create_agents,
)
from wacrm.agents.tables import AgentTables, validate_prefix
from wacrm.i18n.text import Text

__all__ = [
    "PROVISIONING_LOCK",
    "AgentError",
    "AgentNotFoundError",
    "AgentSpec",
    "create_agent",
    "create_agents",
]


# --- administration: list with counts, link/unlink, (de)activate, drop ---------------------------


class AgentNotFoundError(AgentError):
    status = 404


async def get_agent(conn: AsyncConnection[Any], *, agent_id: int) -> dict[str, Any]:
    cur = await conn.execute(
        """SELECT a.*, u.email AS user_email, u.name AS user_name
           FROM agents a LEFT JOIN users u ON u.id = a.user_id
           WHERE a.id = %s""",
        (agent_id,),
    )
    row = await cur.fetchone()
    if row is None:
        raise AgentNotFoundError(Text("no agent with id {agent_id}", agent_id=agent_id))
    return dict(row)


async def counts(conn: AsyncConnection[Any], *, tables: AgentTables) -> dict[str, int]:
    """Numbers of customers, messages and orders in an agent's tables."""
    cur = await conn.execute(
        tables.query(
            """SELECT (SELECT count(*) FROM {customers}) AS customers,
                      (SELECT count(*) FROM {messages}) AS messages,
                      (SELECT count(*) FROM {orders}) AS orders"""
        )
    )
    row = await cur.fetchone()
    assert row is not None
    return {k: int(row[k]) for k in ("customers", "messages", "orders")}


async def count_agents(conn: AsyncConnection[Any]) -> int:
    cur = await conn.execute("SELECT count(*) AS n FROM agents")
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def list_agents(
    conn: AsyncConnection[Any],
    *,
    with_counts: bool = True,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Agents by id (all, or `limit` from `offset`) with their user's email and (optionally)
    their counts (counts_of: a bounded number of agents' tables per statement)."""
    cur = await conn.execute(
        """SELECT a.*, u.email AS user_email, u.name AS user_name
           FROM agents a LEFT JOIN users u ON u.id = a.user_id
           ORDER BY a.id LIMIT %s OFFSET %s""",
        (limit, offset),
    )
    agents = [dict(r) for r in await cur.fetchall()]
    if with_counts:
        found = await counts_of(conn, [AgentTables(a["id"], a["agent_prefix"]) for a in agents])
        for agent in agents:
            agent["counts"] = found[agent["id"]]
    return agents


COUNTED_PER_STATEMENT = 10  # agents whose tables one statement reads (~20 locks each)


async def counts_of(
    conn: AsyncConnection[Any], targets: list[AgentTables]
) -> dict[int, dict[str, int]]:
    """counts() of several agents, COUNTED_PER_STATEMENT agents per statement."""
    out: dict[int, dict[str, int]] = {}
    for i in range(0, len(targets), COUNTED_PER_STATEMENT):
        query = sql.SQL(" UNION ALL ").join(
            t.query(
                """SELECT {aid}::bigint AS agent_id, (SELECT count(*) FROM {customers}) AS customers,
                          (SELECT count(*) FROM {messages}) AS messages,
                          (SELECT count(*) FROM {orders}) AS orders""",
                aid=sql.Literal(t.agent_id),
            )
            for t in targets[i : i + COUNTED_PER_STATEMENT]
        )
        cur = await conn.execute(query)
        for row in await cur.fetchall():
            out[row["agent_id"]] = {k: int(row[k]) for k in ("customers", "messages", "orders")}
    return out


async def link_user(conn: AsyncConnection[Any], *, agent_id: int, user_id: UUID) -> dict[str, Any]:
    """Link a user to an agent (a user has at most one agent: index agents_one_agent_per_user)."""
    async with conn.transaction():
        await get_agent(conn, agent_id=agent_id)
        cur = await conn.execute("SELECT 1 FROM users WHERE id = %s", (user_id,))
        if await cur.fetchone() is None:
            raise AgentNotFoundError(Text("no user with id {user_id}", user_id=user_id))
        cur = await conn.execute(
            "SELECT id, agent_prefix FROM agents WHERE user_id = %s AND id <> %s",
            (user_id, agent_id),
        )
        other = await cur.fetchone()
        if other is not None:
            raise AgentError(
                Text(
                    "this user is already linked to agent {agent_prefix}; unlink it first",
                    agent_prefix=other["agent_prefix"],
                ),
                status=409,
            )
        try:
            await conn.execute(
                "UPDATE agents SET user_id = %s, updated_at = now() WHERE id = %s",
                (user_id, agent_id),
            )
        except psycopg.errors.UniqueViolation as exc:
            raise AgentError(
                Text("this user is already linked to another agent"), status=409
            ) from exc
    return await get_agent(conn, agent_id=agent_id)


async def unlink_user(conn: AsyncConnection[Any], *, agent_id: int) -> dict[str, Any]:
    await get_agent(conn, agent_id=agent_id)
    await conn.execute(
        "UPDATE agents SET user_id = NULL, updated_at = now() WHERE id = %s", (agent_id,)
    )
    return await get_agent(conn, agent_id=agent_id)


async def set_active(conn: AsyncConnection[Any], *, agent_id: int, active: bool) -> dict[str, Any]:
    """Deactivate (or reactivate) an agent; its tables and data stay."""
    await get_agent(conn, agent_id=agent_id)
    await conn.execute(
        "UPDATE agents SET is_active = %s, updated_at = now() WHERE id = %s", (active, agent_id)
    )
    return await get_agent(conn, agent_id=agent_id)


async def drop_agent(conn: AsyncConnection[Any], *, agent_id: int, confirm: str) -> list[str]:
    """Drop an agent's tables and its row, only if `confirm` equals its prefix; the tables dropped."""
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT agent_prefix FROM agents WHERE id = %s FOR UPDATE", (agent_id,)
        )
        row = await cur.fetchone()
        if row is None:
            raise AgentNotFoundError(Text("no agent with id {agent_id}", agent_id=agent_id))
        prefix = validate_prefix(row["agent_prefix"])
        if confirm != prefix:
            raise AgentError(
                Text(
                    "to drop this agent's tables and data, confirm with its prefix '{prefix}'",
                    prefix=prefix,
                )
            )
        cur = await conn.execute(
            """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
                 AND starts_with(c.relname, %s) ORDER BY c.relname""",
            (prefix + "_",),
        )
        names = [r["relname"] for r in await cur.fetchall()]
        for name in names:
            await conn.execute(
                sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(name))
            )
        try:
            await conn.execute("DELETE FROM agents WHERE id = %s", (agent_id,))
        except psycopg.errors.ForeignKeyViolation as exc:
            raise AgentError(
                Text(
                    "agent {prefix} is still referenced elsewhere ({table_name}); deactivate it instead",
                    prefix=prefix,
                    table_name=exc.diag.table_name,
                ),
                status=409,
            ) from exc
    return names
