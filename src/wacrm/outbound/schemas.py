"""What an agent may send: one model per message type (the `type` field tells them apart)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator


class TextContent(BaseModel):
    type: Literal["text"] = "text"
    body: str = Field(min_length=1, max_length=4096)
    preview_url: bool = False
    reply_to: int | None = Field(None, description="id of the message this answers (shown quoted)")


class MediaContent(BaseModel):
    type: Literal["image", "video", "audio", "document", "sticker"]
    media_id: int = Field(description="id returned by POST /api/v1/media")
    caption: str | None = Field(None, max_length=1024)
    reply_to: int | None = None


class LocationContent(BaseModel):
    type: Literal["location"] = "location"
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = Field(None, max_length=1000)
    address: str | None = Field(None, max_length=1000)
    reply_to: int | None = None


class ReactionContent(BaseModel):
    type: Literal["reaction"] = "reaction"
    message_id: int = Field(description="id of the message reacted to")
    emoji: str = Field(max_length=16, description="an emoji; empty removes the reaction")


class TemplateHeaderMedia(BaseModel):
    """The image, video or document of a template's media header: a public link or a media id."""

    type: Literal["image", "video", "document"]
    link: str | None = Field(None, max_length=2000, pattern=r"^https://\S+$")
    id: str | None = Field(None, max_length=64, pattern=r"^[0-9]+$")
    filename: str | None = Field(None, max_length=240, description="a document's file name")

    @model_validator(mode="after")
    def _one_source(self) -> TemplateHeaderMedia:
        if (self.link is None) == (self.id is None):
            raise ValueError("give the header's media as a link (https://...) or a media id")
        return self


class TemplateContent(BaseModel):
    type: Literal["template"] = "template"
    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")
    language: str = Field("en_US", min_length=2, max_length=16)
    body_params: list[Annotated[str, Field(min_length=1, max_length=1024)]] = Field(
        default_factory=list, max_length=20
    )
    header_media: TemplateHeaderMedia | None = Field(
        None, description="required when the template has an IMAGE, VIDEO or DOCUMENT header"
    )
    reply_to: int | None = None


OutboundContent = Annotated[
    TextContent | MediaContent | LocationContent | ReactionContent | TemplateContent,
    Field(discriminator="type"),
]


class NotificationSettingsIn(BaseModel):
    """The workspace's messages to customers (the settings page's form; None keeps a value)."""

    language: str | None = Field(None, max_length=16)
    default_currency: str | None = Field(None, pattern=r"^[A-Za-z]{3}$")
    notify_order_status: bool | None = None
    status_texts: dict[str, str] | None = None
    template_name: str | None = Field(None, min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")
    template_language: str | None = Field(None, min_length=2, max_length=16)
