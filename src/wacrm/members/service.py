"""Workspace members: who works an agent's inbox (its owner and the added members)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from wacrm.errors import AppError
from wacrm.i18n.text import Text

Conn = AsyncConnection[Any]
LABEL = "coalesce(u.name, 'Agent ' || a.id) || ' (' || a.agent_prefix || ')'"
# every workspace (active agent) a user works in, with the user's role in it
WORKSPACES_SQL = f"""
SELECT a.*, {LABEL} AS label, w.role FROM (
  SELECT id AS agent_id, 'owner' AS role FROM agents WHERE user_id = %(user_id)s
  UNION ALL
  SELECT m.agent_id, m.role FROM agent_members m JOIN agents o ON o.id = m.agent_id
  WHERE m.user_id = %(user_id)s AND o.user_id IS DISTINCT FROM %(user_id)s
) w JOIN agents a ON a.id = w.agent_id LEFT JOIN users u ON u.id = a.user_id
WHERE a.is_active
"""
AGENT_SQL = f"SELECT a.*, {LABEL} AS label FROM agents a LEFT JOIN users u ON u.id = a.user_id"


class MemberError(AppError, ValueError):
    """A membership change that cannot be made; `status` is the HTTP status to answer."""


async def workspaces(conn: Conn, *, user_id: UUID) -> list[dict[str, Any]]:
    """The active workspaces the user works in (owner first, then by label)."""
    cur = await conn.execute(
        WORKSPACES_SQL + " ORDER BY w.role = 'owner' DESC, label, a.id", {"user_id": user_id}
    )
    return [dict(r) for r in await cur.fetchall()]


async def workspace_for(conn: Conn, *, user_id: UUID, agent_id: int) -> dict[str, Any] | None:
    """The workspace `agent_id` if the user works in it (active), else None."""
    cur = await conn.execute(
        WORKSPACES_SQL + " AND a.id = %(agent_id)s LIMIT 1",
        {"user_id": user_id, "agent_id": agent_id},
    )
    row = await cur.fetchone()
    return dict(row) if row else None


async def agent(conn: Conn, *, agent_id: int) -> dict[str, Any] | None:
    """Any agent with its label (administrators open every workspace)."""
    cur = await conn.execute(AGENT_SQL + " WHERE a.id = %s", (agent_id,))
    row = await cur.fetchone()
    return dict(row) if row else None


async def first_agent(conn: Conn) -> dict[str, Any] | None:
    cur = await conn.execute(AGENT_SQL + " ORDER BY a.is_active DESC, a.id LIMIT 1")
    row = await cur.fetchone()
    return dict(row) if row else None


async def list_members(conn: Conn, *, agent_id: int) -> list[dict[str, Any]]:
    """The owner and the members of a workspace, with their names and availability."""
    cur = await conn.execute(
        """SELECT u.id AS user_id, u.email, u.name, w.role, u.is_active,
                  coalesce(u.available, true) AS available, m.created_at AS added_at
           FROM wacrm_workspace_members(%(a)s) w JOIN users u ON u.id = w.user_id
           LEFT JOIN agent_members m ON m.agent_id = %(a)s AND m.user_id = w.user_id
           ORDER BY w.role = 'owner' DESC, u.name, u.email""",
        {"a": agent_id},
    )
    return [dict(r) for r in await cur.fetchall()]


async def is_member(conn: Conn, *, agent_id: int, user_id: UUID, active_only: bool = True) -> bool:
    """The user works in the workspace (and is active, unless `active_only` is false: a
    deactivated user is assigned nothing, but keeps the conversations assigned before)."""
    cur = await conn.execute(
        """SELECT 1 FROM wacrm_workspace_members(%s) w JOIN users u ON u.id = w.user_id
           WHERE w.user_id = %s AND (u.is_active OR NOT %s)""",
        (agent_id, user_id, active_only),
    )
    return await cur.fetchone() is not None


async def _require_agent(conn: Conn, agent_id: int) -> dict[str, Any]:
    cur = await conn.execute(
        "SELECT id, user_id, agent_prefix FROM agents WHERE id = %s", (agent_id,)
    )
    row = await cur.fetchone()
    if row is None:
        raise MemberError(Text("no agent with id {id}", id=agent_id), status=404)
    return dict(row)


async def add_member(
    conn: Conn, *, agent_id: int, email: str, role: str = "member", added_by: UUID | None = None
) -> dict[str, Any]:
    """Add the user with this email to the workspace (409 if already in it)."""
    if role != "member":
        raise MemberError(
            Text(
                "role must be 'member' (the owner is the agent's linked user: link another user"
                " to the agent to change it)"
            ),
            status=422,
        )
    async with conn.transaction():
        workspace = await _require_agent(conn, agent_id)
        cur = await conn.execute(
            "SELECT id, is_active FROM users WHERE lower(email) = lower(%s)", (email.strip(),)
        )
        user = await cur.fetchone()
        if user is None or not user["is_active"]:  # one answer: whether an account exists is
            # not told to an owner (administrators see the users' list)
            raise MemberError(
                Text("no user with email {email}: create the user first", email=email.strip()),
                status=404,
            )
        if workspace["user_id"] == user["id"]:
            raise MemberError(
                Text("{email} owns this workspace already", email=email.strip()), status=409
            )
        cur = await conn.execute(
            """INSERT INTO agent_members (agent_id, user_id, role, added_by)
               VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING user_id""",
            (agent_id, user["id"], role, added_by),
        )
        if await cur.fetchone() is None:
            raise MemberError(
                Text("{email} is a member of this workspace already", email=email.strip()),
                status=409,
            )
    return next(
        m for m in await list_members(conn, agent_id=agent_id) if m["user_id"] == user["id"]
    )


async def remove_member(conn: Conn, *, agent_id: int, user_id: UUID) -> None:
    """Remove a member; their assigned conversations become unassigned."""
    from wacrm.agents.tables import AgentTables
    from wacrm.realtime import credentials

    async with conn.transaction():
        workspace = await _require_agent(conn, agent_id)
        if workspace["user_id"] == user_id:
            raise MemberError(
                Text("the owner cannot be removed: link another user to the agent instead"),
                status=409,
            )
        cur = await conn.execute(
            "DELETE FROM agent_members WHERE agent_id = %s AND user_id = %s RETURNING user_id",
            (agent_id, user_id),
        )
        if await cur.fetchone() is None:
            raise MemberError(
                Text("user {id} is not a member of this workspace", id=user_id), status=404
            )
        # their live streams of this workspace end now, in every process (not at the next re-check)
        await credentials.credentials_changed(conn, user_id=user_id)
        tables = AgentTables(agent_id, workspace["agent_prefix"])
        await conn.execute(
            tables.query(
                """WITH un AS (UPDATE {customers} SET assignee_id = NULL
                               WHERE assignee_id = %(u)s RETURNING id)
                   INSERT INTO {conversation_events} (customer_id, actor_id, kind, from_value)
                   SELECT id, NULL, 'assignee', %(u)s::text FROM un"""
            ),
            {"u": user_id},
        )


async def set_auto_assign(conn: Conn, *, agent_id: int, enabled: bool) -> None:
    await conn.execute(
        "UPDATE agents SET auto_assign = %s, updated_at = now() WHERE id = %s", (enabled, agent_id)
    )
