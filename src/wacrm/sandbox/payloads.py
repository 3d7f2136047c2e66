"""Meta's webhook payloads (inbound messages, statuses), their signature and ids; no HTTP here.

Usable without a running sandbox: `build_inbound_payload(...)` + `sign(body, secret)` give what
Meta would POST to the CRM.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import phonenumbers

BSUID_PATTERN = r"^[A-Z]{2}\.[0-9]{5,40}$"


def sign(body: bytes, secret: str) -> str:
    """The X-Hub-Signature-256 header value for a raw body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(body: bytes, secret: str, header: str | None) -> bool:
    return bool(header) and hmac.compare_digest(sign(body, secret), header or "")


def dumps(payload: dict[str, Any]) -> bytes:
    """Compact JSON bytes, as Meta sends them (non-ASCII escaped)."""
    return json.dumps(payload, separators=(",", ":")).encode()


def new_wamid() -> str:
    """A message id that looks like Meta's (`wamid.` + base64)."""
    raw = b"\x15\x02\x00\x11\x18\x12" + secrets.token_bytes(24)
    return "wamid." + base64.b64encode(raw).decode().rstrip("=")


def now_ts() -> str:
    return str(int(time.time()))


def is_bsuid(value: str) -> bool:
    import re

    return re.fullmatch(BSUID_PATTERN, value) is not None


def bsuid_for(phone: str, waba_id: str = "") -> str:
    """The business-scoped user id the sandbox gives a phone number (stable per WABA)."""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse("+" + phone)) or "US"
    except phonenumbers.NumberParseException:
        region = "US"
    if not region.isalpha() or len(region) != 2:
        region = "US"
    digest = hashlib.sha256(f"{waba_id}:{phone}".encode()).digest()
    return f"{region}.{int.from_bytes(digest[:8], 'big'):020d}"


def _envelope(
    waba_id: str, phone_number_id: str, display: str, value: dict[str, Any]
) -> dict[str, Any]:
    body = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display, "phone_number_id": phone_number_id},
    }
    body.update(value)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"value": body, "field": "messages"}]}],
    }


def build_inbound_payload(
    *,
    phone_number_id: str,
    display_phone_number: str,
    waba_id: str,
    message: dict[str, Any],
    phone: str | None = None,
    user_id: str | None = None,
    name: str | None = "Customer",
    username: str | None = None,
    parent_user_id: str | None = None,
) -> dict[str, Any]:
    """Meta's webhook for one inbound message (the `message` object from `build_message`).

    New shape when `user_id` (BSUID) is given: `contacts[].user_id`, `messages[].from_user_id`;
    old shape otherwise. A username-only customer has `user_id` and no `phone`.
    """
    if phone is None and user_id is None:
        raise ValueError("an inbound message needs the customer's phone or BSUID")
    msg = dict(message)
    if phone is not None:
        msg = {"from": phone, **msg}
    if user_id is not None:
        msg["from_user_id"] = user_id
    value: dict[str, Any] = {}
    if msg.get("type") != "system":  # system messages carry no contacts array
        profile: dict[str, Any] = {"name": name} if name else {}
        if username:
            profile["username"] = username
        contact: dict[str, Any] = {"profile": profile}
        if phone is not None:
            contact["wa_id"] = phone
        if user_id is not None:
            contact["user_id"] = user_id
        if parent_user_id is not None:
            contact["parent_user_id"] = parent_user_id
        value["contacts"] = [contact]
    value["messages"] = [msg]
    return _envelope(waba_id, phone_number_id, display_phone_number, value)


def build_status_payload(  # noqa: PLR0913 - one keyword per field of Meta's status
    *,
    phone_number_id: str,
    display_phone_number: str,
    waba_id: str,
    wamid: str,
    status: str,
    recipient_id: str | None,
    recipient_user_id: str | None = None,
    category: str = "service",
    conversation_id: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    timestamp: str | None = None,
) -> dict[str, Any]:
    """Meta's `statuses[]` webhook for one status of a message the business sent."""
    ts = timestamp or now_ts()
    entry: dict[str, Any] = {"id": wamid, "status": status, "timestamp": ts}
    if recipient_id is not None:
        entry["recipient_id"] = recipient_id
    if recipient_user_id is not None and not (status == "failed" and recipient_id is not None):
        entry["recipient_user_id"] = recipient_user_id
    value: dict[str, Any] = {}
    if status == "failed":
        entry["errors"] = errors or []
    else:
        conv: dict[str, Any] = {
            "id": conversation_id or secrets.token_hex(16),
            "origin": {"type": category},
        }
        if status == "sent":
            conv["expiration_timestamp"] = str(int(ts) + 24 * 3600)
        entry["conversation"] = conv
        entry["pricing"] = {
            "billable": category != "service",
            "pricing_model": "PMP",
            "category": category,
            "type": "free_customer_service" if category == "service" else "regular",
        }
        if recipient_user_id is not None:
            contact: dict[str, Any] = {"user_id": recipient_user_id}
            if recipient_id is not None:
                contact = {"wa_id": recipient_id, **contact}
            value["contacts"] = [contact]
    value["statuses"] = [entry]
    return _envelope(waba_id, phone_number_id, display_phone_number, value)
