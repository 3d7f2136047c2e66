"""Team inbox API: PATCH a conversation (status, snooze, assignee, labels), its events, the
counts per status, and the workspace's labels."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response

from wacrm.accounts.deps import AgentScope, agent_scope, manager_scope
from wacrm.conversations import filters, labels, schemas
from wacrm.conversations import state as conv_state

router = APIRouter(prefix="/api/v1", tags=["conversations"])
CustomerId = Path(..., ge=1, le=2**31 - 1, description="The customer's id in the agent's tables")
LabelId = Path(..., ge=1, le=2**63 - 1)


async def team_filter(
    scope: AgentScope = Depends(agent_scope),
    status: str | None = Query(
        None, description="open (default), pending, snoozed, resolved or all"
    ),
    assignee: str | None = Query(None, description="me, none or a user id"),
    label: str | None = Query(None, max_length=40, description="a label name"),
    mentions: bool = Query(False, description="only conversations whose notes mention you"),
) -> filters.TeamFilter:
    """The inbox's team filters, checked (400 names the bad one)."""
    return await filters.team_filter_of(
        scope.db,
        tables=scope.tables,
        me=scope.user.id,
        status=status,
        assignee=assignee,
        label=label,
        mentions=mentions,
    )


@router.get("/conversations/counts", response_model=schemas.StatusCounts)
async def status_counts(
    scope: AgentScope = Depends(agent_scope), team: filters.TeamFilter = Depends(team_filter)
) -> dict[str, int]:
    """Conversations per status under the assignee/label/mentions filters."""
    return await filters.status_counts(scope.db, tables=scope.tables, team=team)


@router.patch("/conversations/{customer_id:int}", response_model=schemas.ConversationState)
async def update_conversation(
    body: schemas.ConversationPatch,
    customer_id: int = CustomerId,
    scope: AgentScope = Depends(agent_scope),
) -> dict[str, Any]:
    """Change status (snoozed_until), assignee or labels; each change becomes an event."""
    given = {name: getattr(body, name) for name in body.model_fields_set}
    if given.get("status", "") is None:
        raise HTTPException(
            422, detail="status cannot be null: give open, pending, snoozed or resolved"
        )
    if given.get("labels", "") is None:
        raise HTTPException(422, detail="labels cannot be null: give [] to remove every label")
    return await conv_state.update(
        scope.db,
        tables=scope.tables,
        agent_id=scope.agent_id,
        customer_id=customer_id,
        actor_id=scope.user.id,
        **given,
    )


@router.get("/conversations/{customer_id}/events", response_model=list[schemas.ConversationEvent])
async def conversation_events(
    customer_id: int = CustomerId, scope: AgentScope = Depends(agent_scope)
) -> list[dict[str, Any]]:
    """Every change of status, assignee and labels, oldest first."""
    await conv_state.state(scope.db, tables=scope.tables, customer_id=customer_id)
    return await conv_state.events(scope.db, tables=scope.tables, customer_id=customer_id)


@router.get("/labels", response_model=list[schemas.LabelOut], tags=["labels"])
async def list_labels(scope: AgentScope = Depends(agent_scope)) -> list[dict[str, Any]]:
    return await labels.list_labels(scope.db, agent_id=scope.agent_id)


@router.post("/labels", response_model=schemas.LabelOut, status_code=201, tags=["labels"])
async def create_label(
    body: schemas.LabelIn, scope: AgentScope = Depends(manager_scope)
) -> dict[str, Any]:
    return await labels.create_label(
        scope.db,
        agent_id=scope.agent_id,
        name=body.name,
        color=body.color,
        description=body.description,
    )


@router.patch("/labels/{label_id}", response_model=schemas.LabelOut, tags=["labels"])
async def update_label(
    body: schemas.LabelPatch, label_id: int = LabelId, scope: AgentScope = Depends(manager_scope)
) -> dict[str, Any]:
    return await labels.update_label(
        scope.db,
        agent_id=scope.agent_id,
        label_id=label_id,
        **body.model_dump(exclude_unset=True),
    )


@router.delete("/labels/{label_id}", status_code=204, tags=["labels"])
async def delete_label(
    label_id: int = LabelId, scope: AgentScope = Depends(manager_scope)
) -> Response:
    """Delete a label; it leaves every conversation."""
    await labels.delete_label(scope.db, agent_id=scope.agent_id, label_id=label_id)
    return Response(status_code=204)
