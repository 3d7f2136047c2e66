"""Customers API models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class CustomerOut(BaseModel):
    id: int
    agent_id: int
    name: str = Field(description="The name the CRM shows: the agent's, else WhatsApp's.")
    profile_name: str | None = Field(
        None, description="The customer's WhatsApp profile name, as last received."
    )
    name_by_agent: bool = Field(
        False, description="`name` was given by the agent (WhatsApp's name then leaves it alone)."
    )
    phone: str | None
    wa_id: str | None
    bsuid: str | None
    parent_bsuid: str | None
    username: str | None
    profile_image_url: str | None
    created_at: datetime | None
    updated_at: datetime | None
    last_message_at: datetime | None
    last_inbound_at: datetime | None
    last_message_id: int | None
    unread_count: int
    address_book_name: str | None = Field(
        None, description="The name in the owner's phone address book (WhatsApp Business app)."
    )


class CustomerPatch(BaseModel):
    name: str = Field(
        ..., min_length=1, max_length=200, description="The name the agent knows the customer by."
    )
