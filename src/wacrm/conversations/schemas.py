"""Response models of the conversations API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


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
    status: Literal["open", "pending", "snoozed", "resolved"] = "open"
    snoozed_until: datetime | None = None
    assignee_id: UUID | None = None
    assignee_name: str | None = None
    labels: list[str] = []


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
    unit_count: int | None = Field(
        None, description="units ordered (the sum of quantities), as the pages show them"
    )
    item_count: int | None = Field(None, description="the same as unit_count (kept for clients)")
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
    sent_by_name: str | None = Field(
        None, description="Who sent it from the CRM (null with sent_by null: an automation)"
    )
    automatic: Literal["away", "greeting", "order_status", "broadcast"] | None = Field(
        None,
        description="Sent by an automation: the away message, the greeting, an order status "
        "message or a broadcast (sent_by then names the member who caused it, if any)",
    )
    edited_at: datetime | None = Field(None, description="When the customer last edited it")
    deleted: bool = Field(False, description="The customer deleted it (its content is gone)")
    origin: str | None = Field(
        None,
        description="'business_app': sent from the WhatsApp Business app on the phone; "
        "'history': imported from the chats before the number joined the CRM",
    )


class ChatPage(BaseModel):
    items: list[ChatMessage]
    next_cursor: str | None


class MarkedRead(BaseModel):
    customer_id: int
    marked: int
    receipt_queued: bool


Status = Literal["open", "pending", "snoozed", "resolved"]


class ConversationPatch(BaseModel):
    """Any of status, snoozed_until, assignee_id (null: nobody), labels (the whole set)."""

    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    snoozed_until: datetime | None = Field(
        None,
        description="With status 'snoozed' (implied): when it reopens by itself; future, with a time zone.",
    )
    assignee_id: UUID | None = Field(None, description="A member of the workspace, or null.")
    labels: list[Annotated[str, Field(min_length=1, max_length=40)]] | None = Field(
        None, max_length=50, description="Label names; replaces the conversation's labels."
    )


class ConversationState(BaseModel):
    customer_id: int
    status: Status
    snoozed_until: datetime | None
    assignee_id: UUID | None
    assignee_name: str | None
    labels: list[str]


class StatusCounts(BaseModel):
    open: int
    pending: int
    snoozed: int
    resolved: int
    all: int


class ConversationEvent(BaseModel):
    id: int
    kind: Literal["status", "assignee", "labels"]
    from_: str | None = Field(None, alias="from")
    to: str | None
    from_name: str | None = None
    to_name: str | None = None
    actor_id: UUID | None
    actor_name: str | None
    created_at: datetime

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=40)
    color: str = Field("#1f93ff", max_length=7, description="#rrggbb")
    description: str | None = Field(None, max_length=200)


class LabelPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=40)
    color: str | None = Field(None, max_length=7)
    description: str | None = Field(None, max_length=200)


class LabelOut(BaseModel):
    id: int
    name: str
    color: str
    description: str | None
    created_at: datetime
