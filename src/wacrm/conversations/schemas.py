"""Response models of the conversations API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field


class Window(BaseModel):
    state: Literal["open", "closed"]
    closes_at: datetime | None


class LastMessage(BaseModel):
    id: int
    preview: str
    direction: str
    status: str | None
    timestamp: datetime | None
    type: str


class Conversation(BaseModel):
    customer_id: int
    name: str = Field(description="The name the CRM shows: the agent's, else WhatsApp's.")
    profile_name: str | None = Field(
        None, description="The customer's WhatsApp profile name, as last received."
    )
    name_by_agent: bool = Field(False, description="`name` was given by the agent.")
    phone: str | None
    username: str | None
    profile_image_url: str | None
    last_message_at: datetime | None
    last_message: LastMessage | None
    unread_count: int
    window: Window
    has_open_order: bool


class ConversationPage(BaseModel):
    items: list[Conversation]
    next_cursor: str | None


class MessageError(BaseModel):
    code: int | None
    title: str | None
    details: str | None


class Media(BaseModel):
    url: str | None
    mime_type: str | None
    filename: str | None
    size: int | None
    status: str | None
    error: str | None
    voice: bool | None


class ReplyTo(BaseModel):
    wamid: str
    found: bool
    id: int | None = None
    direction: str | None = None
    type: str | None = None
    preview: str | None = None


class OrderLink(BaseModel):
    id: int
    item_count: int | None
    url: str


class ChatMessage(BaseModel):
    id: int
    wamid: str | None
    direction: str
    type: str
    text: str
    caption: str | None
    preview: str
    timestamp: datetime | None
    is_read: bool
    status: str | None
    status_at: datetime | None
    error: MessageError | None
    media: Media | None
    location: dict[str, Any] | None
    contacts: list[dict[str, Any]] | None
    reply_to: ReplyTo | None
    reaction: str | None
    agent_reaction: str | None
    order: OrderLink | None
    sent_by: UUID | None


class ChatPage(BaseModel):
    items: list[ChatMessage]
    next_cursor: str | None


class MarkedRead(BaseModel):
    customer_id: int
    marked: int
    receipt_queued: bool
