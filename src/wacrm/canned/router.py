"""Canned responses API: GET|POST /api/v1/canned-responses, PATCH|DELETE .../{id}, and one
filled in for a conversation (GET .../{id}/render?customer_id=)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from wacrm.accounts.deps import AgentScope, agent_scope
from wacrm.canned import service as canned
from wacrm.i18n.text import Text

router = APIRouter(prefix="/api/v1/canned-responses", tags=["canned responses"])
CannedId = Path(..., ge=1, le=2**63 - 1)


class CannedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shortcut: str = Field(..., max_length=41, description="Typed after '/' in the composer")
    body: str = Field(
        ...,
        description="Text with variables: " + ", ".join("{{" + v + "}}" for v in canned.VARIABLES),
    )


class CannedPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shortcut: str | None = Field(None, max_length=41)
    body: str | None = None


class CannedOut(BaseModel):
    id: int
    shortcut: str
    body: str
    created_by: UUID | None
    created_at: datetime
    updated_at: datetime


class Rendered(BaseModel):
    id: int
    shortcut: str
    text: str


@router.get("", response_model=list[CannedOut])
async def list_canned(
    scope: AgentScope = Depends(agent_scope),
    q: str | None = Query(None, max_length=100, description="shortcut prefix or body text"),
) -> Any:
    return await canned.list_canned(scope.db, agent_id=scope.agent_id, q=q)


@router.post("", response_model=CannedOut, status_code=201)
async def create_canned(body: CannedIn, scope: AgentScope = Depends(agent_scope)) -> Any:
    return await canned.create_canned(
        scope.db,
        agent_id=scope.agent_id,
        shortcut=body.shortcut,
        body=body.body,
        created_by=scope.user.id,
    )


@router.get("/{canned_id}", response_model=CannedOut)
async def get_canned(canned_id: int = CannedId, scope: AgentScope = Depends(agent_scope)) -> Any:
    return await canned.get_canned(scope.db, agent_id=scope.agent_id, canned_id=canned_id)


@router.patch("/{canned_id}", response_model=CannedOut)
async def update_canned(
    body: CannedPatch, canned_id: int = CannedId, scope: AgentScope = Depends(agent_scope)
) -> Any:
    given = body.model_dump(exclude_unset=True)
    if not given or None in given.values():
        raise canned.CannedError(
            "give shortcut or body (null is no value: DELETE removes a canned response)",
            field="body",
        )
    return await canned.update_canned(
        scope.db, agent_id=scope.agent_id, canned_id=canned_id, **given
    )


@router.delete("/{canned_id}", status_code=204)
async def delete_canned(
    canned_id: int = CannedId, scope: AgentScope = Depends(agent_scope)
) -> Response:
    await canned.delete_canned(scope.db, agent_id=scope.agent_id, canned_id=canned_id)
    return Response(status_code=204)


@router.get("/{canned_id}/render", response_model=Rendered)
async def render_canned(
    canned_id: int = CannedId,
    customer_id: int | None = Query(None, ge=1, le=2**31 - 1, description="required"),
    scope: AgentScope = Depends(agent_scope),
) -> Any:
    """The response's text with the conversation's values filled in (nothing is sent)."""
    found = await canned.get_canned(scope.db, agent_id=scope.agent_id, canned_id=canned_id)
    if customer_id is None:
        raise canned.CannedError(Text("customer_id: the conversation to fill the variables from"))
    values = await canned.variables(
        scope.db, tables=scope.tables, customer_id=customer_id, agent_name=scope.user.name
    )
    return {
        "id": found["id"],
        "shortcut": found["shortcut"],
        "text": canned.fill(found["body"], values),
    }
