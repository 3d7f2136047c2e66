"""Notes API: GET|POST /api/v1/conversations/{customer_id}/notes, PATCH|DELETE .../{note_id}."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from wacrm.accounts.deps import AgentScope, agent_scope
from wacrm.notes import service as notes

router = APIRouter(prefix="/api/v1/conversations/{customer_id}/notes", tags=["notes"])
CustomerId = Path(..., ge=1, le=2**31 - 1)
NoteId = Path(..., ge=1, le=2**63 - 1)


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(
        ..., description=f"At most {notes.MAX_LENGTH} characters; @name mentions a member"
    )
    mentions: list[UUID] | None = Field(None, max_length=50, description="More members to mention")


class NoteEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str
    mentions: list[UUID] | None = Field(
        None, max_length=50, description="More members to mention (default: those given before)"
    )


class NoteOut(BaseModel):
    id: int
    customer_id: int
    author_id: UUID | None
    author_name: str | None
    body: str
    mentions: list[UUID]
    mentioned_names: list[str]
    created_at: datetime
    updated_at: datetime


@router.get("", response_model=list[NoteOut])
async def list_notes(
    customer_id: int = CustomerId, scope: AgentScope = Depends(agent_scope)
) -> Any:
    """The conversation's private notes, oldest first."""
    return await notes.list_notes(scope.db, tables=scope.tables, customer_id=customer_id)


@router.post("", response_model=NoteOut, status_code=201)
async def add_note(
    body: NoteIn, customer_id: int = CustomerId, scope: AgentScope = Depends(agent_scope)
) -> Any:
    """A note for the team (never sent to the customer)."""
    return await notes.add_note(
        scope.db,
        tables=scope.tables,
        agent_id=scope.agent_id,
        customer_id=customer_id,
        author_id=scope.user.id,
        body=body.body,
        mentions=body.mentions,
    )


@router.patch("/{note_id}", response_model=NoteOut)
async def edit_note(
    body: NoteEdit,
    customer_id: int = CustomerId,
    note_id: int = NoteId,
    scope: AgentScope = Depends(agent_scope),
) -> Any:
    """Change a note's text (its author only)."""
    return await notes.edit_note(
        scope.db,
        tables=scope.tables,
        agent_id=scope.agent_id,
        customer_id=customer_id,
        note_id=note_id,
        user_id=scope.user.id,
        body=body.body,
        mentions=body.mentions,
    )


@router.delete("/{note_id}", status_code=204)
async def delete_note(
    customer_id: int = CustomerId, note_id: int = NoteId, scope: AgentScope = Depends(agent_scope)
) -> Response:
    """Delete a note (its author only)."""
    await notes.delete_note(
        scope.db,
        tables=scope.tables,
        agent_id=scope.agent_id,
        customer_id=customer_id,
        note_id=note_id,
        user_id=scope.user.id,
    )
    return Response(status_code=204)
