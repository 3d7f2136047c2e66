"""Workspace members API: GET|POST /api/v1/agents/{agent_id}/members, DELETE .../{user_id}."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Response
from psycopg import AsyncConnection
from pydantic import BaseModel, ConfigDict, Field

from wacrm.accounts.deps import AgentScope, CurrentUser, current_user, db_conn, resolve_scope
from wacrm.accounts.schemas import Message
from wacrm.members import service as members
from wacrm.members.schemas import AvailabilityIn, MemberIn, MemberOut

router = APIRouter(
    prefix="/api/v1/agents/{agent_id}/members",
    tags=["members"],
    responses={400: {"model": Message}, 403: {"model": Message}, 404: {"model": Message}},
)
Conn = AsyncConnection[Any]
AgentId = Path(..., ge=1, le=2**63 - 1, description="The workspace (agent)")


async def member_scope(
    agent_id: int = AgentId,
    user: CurrentUser = Depends(current_user),
    conn: Conn = Depends(db_conn),
) -> AgentScope:
    """The workspace of the path: administrators any, others only one they work in (else 404)."""
    scope = await resolve_scope(conn, user, agent_id)
    assert scope is not None  # an agent_id resolves or raises 404
    return scope


async def manager_of_path(scope: AgentScope = Depends(member_scope)) -> AgentScope:
    """member_scope for changes: administrators and the owner (403 for members, before the
    body is read: a member learns nothing from a validation error)."""
    if not scope.can_manage:
        raise HTTPException(
            403, detail="only an administrator or the workspace's owner changes its members"
        )
    return scope


@router.get("", response_model=list[MemberOut])
async def list_members(scope: AgentScope = Depends(member_scope)) -> list[dict[str, Any]]:
    """The owner and the members of the workspace."""
    return await members.list_members(scope.db, agent_id=scope.agent_id)


@router.post("", response_model=MemberOut, status_code=201)
async def add_member(
    body: MemberIn, scope: AgentScope = Depends(manager_of_path)
) -> dict[str, Any]:
    """Add a user (by email) to the workspace; 409 if already in it."""
    return await members.add_member(
        scope.db,
        agent_id=scope.agent_id,
        email=body.email,
        role=body.role,
        added_by=scope.user.id,
    )


@router.delete("/{user_id}", status_code=204)
async def remove_member(user_id: UUID, scope: AgentScope = Depends(manager_of_path)) -> Response:
    """Remove a member (not the owner); their conversations become unassigned."""
    await members.remove_member(scope.db, agent_id=scope.agent_id, user_id=user_id)
    return Response(status_code=204)


availability = APIRouter(prefix="/api/v1/me", tags=["members"])


@availability.put("/availability", response_model=AvailabilityIn)
async def set_availability(
    body: AvailabilityIn,
    user: CurrentUser = Depends(current_user),
    conn: Conn = Depends(db_conn),
) -> dict[str, Any]:
    """Whether auto-assignment gives you new conversations (in every workspace)."""
    await conn.execute(
        "UPDATE users SET available = %s, updated_at = now() WHERE id = %s",
        (body.available, user.id),
    )
    return {"available": body.available}


class AutoAssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        ..., description="Round robin among available members when a conversation opens"
    )


settings_router = APIRouter(prefix="/api/v1/agents/{agent_id}", tags=["members"])


@settings_router.get("/auto-assignment", response_model=AutoAssignIn)
async def get_auto_assignment(scope: AgentScope = Depends(member_scope)) -> dict[str, Any]:
    return {"enabled": bool(scope.agent.get("auto_assign"))}


@settings_router.put("/auto-assignment", response_model=AutoAssignIn)
async def set_auto_assignment(
    body: AutoAssignIn, scope: AgentScope = Depends(manager_of_path)
) -> dict[str, Any]:
    """Turn round-robin auto-assignment on or off (administrators and the owner)."""
    await members.set_auto_assign(scope.db, agent_id=scope.agent_id, enabled=body.enabled)
    return {"enabled": body.enabled}
