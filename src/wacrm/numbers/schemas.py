"""Request and response bodies of the WhatsApp configurations API (secrets only as hints)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field


class NumberOut(BaseModel):
    id: int
    user_id: UUID
    user_email: str | None = None
    agent_id: int | None = None
    whatsapp_number: str
    phone_number_id: str | None = None
    business_account_id: str | None = None
    webhook_url: str
    is_active: bool | None = None
    messages_per_second: int
    needs_attention: str | None = None
    last_webhook_at: datetime | None = None
    access_token_hint: str | None = Field(
        None, description="Last 4 characters of the access token."
    )
    app_secret_hint: str | None = None
    verify_token_hint: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class NumberFields(BaseModel):
    whatsapp_number: str | None = Field(None, max_length=64, examples=["+15550001111"])
    phone_number_id: str | None = Field(None, max_length=64, examples=["106540352242922"])
    business_account_id: str | None = Field(None, max_length=64)
    access_token: str | None = Field(None, description="Stored encrypted; never returned.")
    app_secret: str | None = Field(None, description="Stored encrypted; never returned.")
    verify_token: str | None = Field(None, max_length=128)
    is_active: bool | None = None
    messages_per_second: int | None = Field(None, ge=1, le=1000)


class NumberCreate(NumberFields):
    user_id: UUID
    whatsapp_number: str = Field(max_length=64, examples=["+15550001111"])
