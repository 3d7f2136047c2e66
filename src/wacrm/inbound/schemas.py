"""Tolerant models of Meta's webhook payloads: every field Meta may omit is optional, extras are kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Metadata(_Tolerant):
    display_phone_number: str | None = None
    phone_number_id: str | None = None


class Profile(_Tolerant):
    name: str | None = None
    username: str | None = None


class Contact(_Tolerant):
    wa_id: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    profile: Profile | None = None


class Context(_Tolerant):
    id: str | None = None
    from_: str | None = Field(None, alias="from")


class WaError(_Tolerant):
    code: int | None = None
    title: str | None = None
    message: str | None = None
    error_data: dict[str, Any] | None = None

    @property
    def details(self) -> str | None:
        if self.error_data and self.error_data.get("details"):
            return str(self.error_data["details"])
        return self.message


class Message(_Tolerant):
    id: str | None = None
    from_: str | None = Field(None, alias="from")
    from_user_id: str | None = None
    parent_user_id: str | None = None
    timestamp: str | None = None
    type: str | None = None
    context: Context | None = None
    errors: list[WaError] | None = None


class Status(_Tolerant):
    id: str | None = None
    status: str | None = None
    timestamp: str | None = None
    recipient_id: str | None = None
    recipient_user_id: str | None = None
    errors: list[WaError] | None = None


class Value(_Tolerant):
    messaging_product: str | None = None
    metadata: Metadata | None = None
    contacts: list[Contact] | None = None
    messages: list[Message] | None = None
    statuses: list[Status] | None = None
    errors: list[WaError] | None = None


class Change(_Tolerant):
    field: str | None = None
    value: Value | None = None


class Entry(_Tolerant):
    id: str | None = None
    changes: list[Change] | None = None


class Payload(_Tolerant):
    object: str | None = None
    entry: list[Entry] | None = None


def to_datetime(ts: str | int | None) -> datetime:
    """Meta's Unix-seconds timestamp (a string) as an aware datetime; now when missing or bad."""
    try:
        return datetime.fromtimestamp(int(ts), tz=UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(tz=UTC)


def find_phone_number_id(data: Any) -> str | None:
    """The first `entry[].changes[].value.metadata.phone_number_id` of a decoded body, if any."""
    if not isinstance(data, dict):
        return None
    entries = data.get("entry")
    for entry in entries if isinstance(entries, list) else ():
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else ():
            if not isinstance(change, dict):
                continue
            value = change.get("value")
            meta = value.get("metadata") if isinstance(value, dict) else None
            pnid = meta.get("phone_number_id") if isinstance(meta, dict) else None
            if pnid and usable_id(str(pnid)):
                return str(pnid)
    return None


def usable_id(value: str) -> bool:
    """Whether a WhatsApp id from a payload can be looked up and stored (printable, at most 128 characters).

    PostgreSQL text cannot hold NUL; anything else unprintable is not an id Meta sends either.
    """
    return 0 < len(value) <= 128 and value.isprintable()
