"""Request bodies of the sandbox's own control API (`/sandbox/...`)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, HttpUrl

from wacrm.sandbox.customer import KINDS
from wacrm.sandbox.state import Number


class NumberIn(BaseModel):
    phone_number_id: str = Field(pattern=r"^[0-9]{3,30}$")
    display_phone_number: str = Field(pattern=r"^\+?[0-9 ]{7,20}$")
    waba_id: str = Field(pattern=r"^[0-9]{3,30}$")
    access_token: str = Field(min_length=8)
    app_secret: str = Field(min_length=8)
    webhook_url: HttpUrl | None = None
    messages_per_second: int = Field(80, ge=1, le=10_000)
    pair_limit: int | None = Field(
        None, ge=1, description="messages per pair_window_seconds to one customer"
    )
    pair_window_seconds: float = Field(6.0, gt=0, le=3600)
    verified_name: str = "iDesign Sandbox Shop"
    enforce_window: bool = True
    window_error_via: Literal["response", "status"] = "response"
    status_delays_ms: tuple[int, int, int] | None = Field(
        None, description="sent, delivered, read delays after acceptance (cumulative, ms)"
    )
    send_read: bool = True
    bsuid: bool = True
    registered: bool = True
    status: Literal[
        "CONNECTED", "PENDING", "FLAGGED", "RESTRICTED", "BANNED", "DISCONNECTED", "RATE_LIMITED"
    ] = "CONNECTED"
    quality_rating: Literal["GREEN", "YELLOW", "RED", "UNKNOWN"] = "GREEN"
    messaging_limit_tier: Literal[
        "TIER_250", "TIER_1K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED"
    ] = "TIER_1K"
    name_status: str = "APPROVED"
    token_scopes: tuple[str, ...] = (
        "whatsapp_business_management",
        "whatsapp_business_messaging",
        "public_profile",
    )
    token_type: Literal["SYSTEM_USER", "USER", "PAGE", "APP"] = "SYSTEM_USER"  # noqa: S105
    token_expires_at: int = Field(0, ge=0, description="Unix seconds; 0: never expires")
    app_id: str = Field("1185423096147051", pattern=r"^[0-9]{3,30}$")
    app_name: str = "iDesign CRM"

    def to_number(self, default_delays: tuple[int, int, int]) -> Number:
        data = self.model_dump()
        data["webhook_url"] = str(self.webhook_url) if self.webhook_url else None
        data["display_phone_number"] = re.sub(r"[\s+]", "", self.display_phone_number)
        data["status_delays_ms"] = tuple(self.status_delays_ms or default_delays)
        return Number(**data)


class CustomerSendIn(BaseModel):
    """A message the sandbox sends the CRM as a customer."""

    type: Literal[KINDS] = "text"  # type: ignore[valid-type]
    phone_number_id: str | None = Field(
        None, description="which business number (default: the only one)"
    )
    content: Any = Field(
        None, description="the type's object (Meta's shape) or a string: text / caption"
    )
    text: str | None = Field(None, description="shortcut for a text body or a media caption")
    context_message_id: str | None = None
    timestamp: int | None = Field(None, ge=0, description="Unix seconds (default now)")
    name: str | None = "Sandbox Customer"
    username: str | None = None
    user_id: str | None = Field(None, pattern=r"^[A-Z]{2}\.[0-9]{5,40}$")
    shape: Literal["new", "old"] = "new"
    hide_phone: bool = Field(False, description="a username-only customer: no wa_id / from")
    deliver: bool = Field(True, description="false: build, sign and record it, but do not POST it")
    extra: dict[str, Any] = Field(
        default_factory=dict, description="merged into the message object"
    )


class WindowIn(BaseModel):
    phone_number_id: str
    last_inbound_at: float | None = Field(None, description="Unix seconds; null closes the window")


class FailIn(BaseModel):
    code: int = 131026
    details: str | None = None


class FaultsIn(BaseModel):
    mode: Literal["none", "slow", "error5xx", "drop", "token_expired"] = "none"
    delay_ms: int = Field(0, ge=0, le=600_000)
    probability: float = Field(1.0, ge=0, le=1)
    count: int | None = Field(None, ge=0)


class ResetIn(BaseModel):
    keep_numbers: bool = False
