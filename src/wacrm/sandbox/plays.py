"""What the sandbox plays besides customers' messages: fields Meta added in 2025–26.

Each endpoint builds Meta's payload for one webhook field (docs: whatsapp-cloud-api.md), signs it
with the number's app secret and POSTs it to the CRM like any other webhook (re-delivered until 200).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from wacrm.sandbox.graph import state_of
from wacrm.sandbox.payloads import bsuid_for, dumps, is_bsuid, now_ts, sign
from wacrm.sandbox.router import pick_number
from wacrm.sandbox.state import Number
from wacrm.sandbox.webhooks import post_signed

router = APIRouter(prefix="/sandbox")


def envelope(number: Number, field: str, value: dict[str, Any]) -> dict[str, Any]:
    """A webhook of one change of `field` for `number` (with its metadata, as Meta sends)."""
    body = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": number.display_phone_number,
            "phone_number_id": number.phone_number_id,
        },
        **value,
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": number.waba_id, "changes": [{"value": body, "field": field}]}],
    }


async def deliver(request: Request, number: Number, payload: dict[str, Any], kind: str) -> dict:
    """POST the payload to the CRM (re-delivered in the background until a 200)."""
    if not number.webhook_url:
        raise HTTPException(409, f"number {number.phone_number_id} has no webhook_url")
    state = state_of(request)
    http = request.app.state.http
    status = await post_signed(state, http, number, payload, kind=kind, retry=False)
    if status != 200:
        state.spawn(post_signed(state, http, number, payload, kind=kind, start_attempt=1))
    raw = dumps(payload)
    return {
        "status_code": status,
        "payload": payload,
        "body": raw.decode(),
        "signature": sign(raw, number.app_secret),
    }


def customer_ids(customer: str, number: Number) -> tuple[str | None, str]:
    """(phone, BSUID) of a played customer given by phone number or BSUID."""
    if is_bsuid(customer):
        return None, customer
    phone = "".join(ch for ch in customer if ch.isdigit())
    if not 7 <= len(phone) <= 15:
        raise HTTPException(422, f"{customer!r} is neither a phone number nor a BSUID")
    return phone, bsuid_for(phone, number.waba_id)


class PreferenceIn(BaseModel):
    value: Literal["stop", "resume"] = "stop"
    phone_number_id: str | None = None
    name: str | None = "Sandbox Customer"
    timestamp: int | None = Field(None, ge=0, description="Unix seconds (default now)")


@router.post("/customers/{customer}/preferences")
async def marketing_preference(customer: str, body: PreferenceIn, request: Request) -> dict:
    """The customer stops (or resumes) marketing messages from WhatsApp's own menu."""
    number = pick_number(state_of(request), body.phone_number_id)
    phone, user_id = customer_ids(customer, number)
    contact: dict[str, Any] = {"profile": {"name": body.name}, "user_id": user_id}
    pref: dict[str, Any] = {
        "user_id": user_id,
        "detail": f"User requested to {body.value} marketing messages",
        "category": "marketing_messages",
        "value": body.value,
        "timestamp": str(body.timestamp or now_ts()),
    }
    if phone:
        contact["wa_id"] = pref["wa_id"] = phone
    value = {"contacts": [contact], "user_preferences": [pref]}
    payload = envelope(number, "user_preferences", value)
    return await deliver(request, number, payload, "user_preferences")
