"""Members API bodies and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(..., min_length=3, max_length=320, description="The user's email")
    role: Literal["member"] = "member"


class MemberOut(BaseModel):
    user_id: UUID
    email: str
    name: str
    role: Literal["owner", "member"]
    is_active: bool
    available: bool
    added_at: datetime | None = None


class AvailabilityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    available: bool
