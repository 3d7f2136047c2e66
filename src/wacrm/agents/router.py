"""Agents API (admins only): create/provision, list with counts, link, deactivate, drop."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from psycopg import AsyncConnection

from wacrm.accounts.deps import CurrentUser, db_conn, require_admin
from wacrm.accounts.schemas import Message
from wacrm.agents import service
from wacrm.agents.schemas import AgentCreate, AgentDrop, AgentDropped, AgentLink, AgentOut
from wacrm.agents.tables import AgentTables

router = APIRouter(
    prefix="/api/v1/agents",
    tags=["agents"],
    dependencies=[Depends(require_admin)],
    responses={400: {"model": Message}, 404: {"model": Message}, 409: {"model": Message}},
)
Conn = AsyncConnection[Any]


async def _out(conn: Conn, agent_id: int) -> dict[str, Any]:
    agent = await service.get_agent(conn, agent_id=agent_id)
    agent["counts"] = await service.counts(
        conn, tables=AgentTables(agent["id"], agent["agent_prefix"])
    )
    return agent


@router.get("", response_model=list[AgentOut])
async def list_agents(
    conn: Conn = Depends(db_conn),
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0, le=2**31 - 1),
):
    """Agents by id, `limit` from `offset` (a page: counting every agent's rows would read every
    agent's tables), with the numbers of customers, messages and orders in their tables."""
    return await service.list_agents(conn, limit=limit, offset=offset)


@router.post("", response_model=AgentOut, status_code=201)
async def create_agent(
    body: AgentCreate,
    request: Request,
    admin: CurrentUser = Depends(require_admin),
    conn: Conn = Depends(db_conn),
):
    """Create an agent and provision its tables (or adopt existing tables of `prefix`)."""
    agent = await service.create_agent(
        conn,
        created_by=admin.id,
        user_id=body.user_id,
        prefix=body.prefix,
        fallback_currency=request.app.state.settings.default_currency,
    )
    return await _out(conn, agent["id"])


@router.get("/{agent_id}", response_model=AgentOut)
async def get_agent(agent_id: int, conn: Conn = Depends(db_conn)):
    return await _out(conn, agent_id)


@router.post("/{agent_id}/link", response_model=AgentOut)
async def link_user(agent_id: int, body: AgentLink, conn: Conn = Depends(db_conn)):
    """Link a user to this agent (a user can be linked to one agent only)."""
    await service.link_user(conn, agent_id=agent_id, user_id=body.user_id)
    return await _out(conn, agent_id)


@router.post("/{agent_id}/unlink", response_model=AgentOut)
async def unlink_user(agent_id: int, conn: Conn = Depends(db_conn)):
    await service.unlink_user(conn, agent_id=agent_id)
    return await _out(conn, agent_id)


@router.post("/{agent_id}/deactivate", response_model=AgentOut)
async def deactivate_agent(agent_id: int, conn: Conn = Depends(db_conn)):
    """Deactivate the agent: its user loses access; the tables and data stay."""
    await service.set_active(conn, agent_id=agent_id, active=False)
    return await _out(conn, agent_id)


@router.post("/{agent_id}/activate", response_model=AgentOut)
async def activate_agent(agent_id: int, conn: Conn = Depends(db_conn)):
    await service.set_active(conn, agent_id=agent_id, active=True)
    return await _out(conn, agent_id)


@router.delete("/{agent_id}", response_model=AgentDropped)
async def drop_agent(agent_id: int, body: AgentDrop, conn: Conn = Depends(db_conn)):
    """Drop the agent and ALL its tables and data. `confirm` must equal the agent's prefix."""
    names = await service.drop_agent(conn, agent_id=agent_id, confirm=body.confirm)
    return AgentDropped(id=agent_id, dropped_tables=names)
