"""`/api/v1/broadcasts`: create (now or scheduled), list, read with counters, cancel, preview."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from psycopg import AsyncConnection
from pydantic import BaseModel, Field

from wacrm.accounts.deps import AgentScope, agent_scope, db_conn
from wacrm.broadcasts import audience as audiences
from wacrm.broadcasts import service

router = APIRouter(prefix="/api/v1/broadcasts", tags=["broadcasts"])


class BroadcastIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    template_name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")
    language: str = Field("en_US", min_length=2, max_length=16)
    params: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="body parameters in order; {name}, {first_name} and {phone} are filled in per customer",
    )
    header_media: str = Field(
        "",
        max_length=2000,
        description="for a template with an IMAGE, VIDEO or DOCUMENT header: its https:// link or media id",
    )
    audience: audiences.Audience = Field(default_factory=audiences.Audience)
    scheduled_at: datetime | None = Field(
        None, description="when to send (with its time zone); now when absent"
    )


@router.post("", status_code=201)
async def create_broadcast(
    body: BroadcastIn,
    request: Request,
    scope: AgentScope = Depends(agent_scope),
    conn: AsyncConnection[Any] = Depends(db_conn),
) -> dict[str, Any]:
    """Schedule a broadcast of an approved template to the audience (sent now or at `scheduled_at`)."""
    if body.scheduled_at is not None and body.scheduled_at.tzinfo is None:
        raise HTTPException(
            422, detail="scheduled_at needs a time zone, e.g. 2026-12-24T09:00:00+01:00"
        )
    made = await service.create(
        conn,
        tables=scope.tables,
        name=body.name,
        template_name=body.template_name,
        language=body.language,
        params=body.params,
        header_media=body.header_media,
        audience=body.audience,
        scheduled_at=body.scheduled_at,
        created_by=scope.user.id,
        graph=request.app.state.settings.graph_api,
    )
    found = await service.get(conn, tables=scope.tables, broadcast_id=made["id"])
    assert found is not None
    return found


@router.post("/preview")
async def preview(
    audience: audiences.Audience,
    scope: AgentScope = Depends(agent_scope),
    conn: AsyncConnection[Any] = Depends(db_conn),
) -> dict[str, Any]:
    """How many customers an audience has, and a few of them (nothing is sent)."""
    return {
        "count": await audiences.count(conn, tables=scope.tables, audience=audience),
        "sample": await audiences.sample(conn, tables=scope.tables, audience=audience),
    }


@router.get("")
async def list_broadcasts(
    scope: AgentScope = Depends(agent_scope), conn: AsyncConnection[Any] = Depends(db_conn)
) -> dict[str, Any]:
    return {"broadcasts": await service.list_broadcasts(conn, agent_id=scope.agent_id)}


@router.get("/{broadcast_id:int}")
async def get_broadcast(
    broadcast_id: int,
    scope: AgentScope = Depends(agent_scope),
    conn: AsyncConnection[Any] = Depends(db_conn),
) -> dict[str, Any]:
    """The broadcast with its counters: recipients, queued, sent, delivered, read, failed (with
    explanations), cancelled, skipped, replied."""
    found = await service.get(conn, tables=scope.tables, broadcast_id=broadcast_id)
    if found is None:
        raise HTTPException(404, detail=f"no broadcast {broadcast_id} in this workspace")
    return found


@router.post("/{broadcast_id}/cancel")
async def cancel_broadcast(
    broadcast_id: int,
    scope: AgentScope = Depends(agent_scope),
    conn: AsyncConnection[Any] = Depends(db_conn),
) -> dict[str, Any]:
    """Stop the broadcast: its messages not sent yet are not sent."""
    stopped = await service.cancel(conn, tables=scope.tables, broadcast_id=broadcast_id)
    found = await service.get(conn, tables=scope.tables, broadcast_id=broadcast_id)
    assert found is not None
    return {**found, "stopped": stopped}
