"""Request and response bodies of the accounts API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

Role = Literal["admin", "agent"]


class UserOut(BaseModel):
    id: UUID
    email: str
    name: str
    role: Role
    is_active: bool
    created_at: datetime | None = None
    agent_id: int | None = None


class UserCreate(BaseModel):
    email: str = Field(examples=["ann@example.com"])
    name: str = Field(min_length=1, max_length=200)
    role: Role
    password: str | None = Field(
        None, description="At least 10 characters; without one the user can only use API tokens."
    )


class UserUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    role: Role | None = None


class PasswordReset(BaseModel):
    new_password: str


class PasswordChange(BaseModel):
    current_password: str
    new_password: str


class LoginIn(BaseModel):
    email: str
    password: str


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str = Field(
        description="Send it as X-CSRF-Token (or csrf_token form field) on writes."
    )


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["ci"])


class TokenOut(BaseModel):
    id: int
    name: str
    token_hint: str = Field(description="The last 4 characters of the token.")
    created_at: datetime
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


class TokenCreated(BaseModel):
    token: str = Field(description="The API token; shown only this once.")
    name: str


class Message(BaseModel):
    detail: str
