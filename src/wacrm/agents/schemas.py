"""Request and response bodies of the agents API."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field


class AgentCounts(BaseModel):
    customers: int
    messages: int
    orders: int


class AgentOut(BaseModel):
    id: int
    agent_prefix: str
    user_id: UUID | None = None
    user_email: str | None = None
    is_active: bool
    created_at: datetime | None = None
    schema_version: int
    counts: AgentCounts | None = None


class AgentCreate(BaseModel):
    user_id: UUID | None = Field(None, description="The user to link (at most one agent per user).")
    prefix: str | None = Field(
        None,
        description="Table prefix ^agt_[a-z0-9]{1,32}$; default agt_<id>.",
        examples=["agt_3784"],
    )


class AgentLink(BaseModel):
    user_id: UUID


class AgentDrop(BaseModel):
    confirm: str = Field(
        description="Must equal the agent's prefix: its tables and data are dropped."
    )


class AgentDropped(BaseModel):
    id: int
    dropped_tables: list[str]
