"""What the sandbox plays besides customers' messages: fields Meta added in 2025–26.

Each endpoint builds Meta's payload for one webhook field (docs: whatsapp-cloud-api.md), signs it
with the number's app secret and POSTs it to the CRM like any other webhook (re-delivered until 200).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from wacrm.sandbox.payloads import bsuid_for, dumps, is_bsuid, new_wamid, now_ts, sign
from wacrm.sandbox.router import pick_number
from wacrm.sandbox.state import Number, state_of
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


class EchoIn(BaseModel):
    text: str = "Sent from the WhatsApp Business app"
    phone_number_id: str | None = None


@router.post("/customers/{customer}/echo")
async def business_app_echo(customer: str, body: EchoIn, request: Request) -> dict:
    """The owner writes to the customer from the WhatsApp Business app (coexistence)."""
    number = pick_number(state_of(request), body.phone_number_id)
    phone, user_id = customer_ids(customer, number)
    echo: dict[str, Any] = {
        "from": number.display_phone_number,
        "to": phone,
        "to_user_id": user_id,
        "id": new_wamid(),
        "timestamp": now_ts(),
        "type": "text",
        "text": {"body": body.text},
    }
    payload = envelope(number, "smb_message_echoes", {"message_echoes": [echo]})
    return {"wamid": echo["id"], **await deliver(request, number, payload, "smb_message_echoes")}


class HistoryIn(BaseModel):
    customers: list[str] = Field(default_factory=lambda: ["4915123456789"])
    days_ago: int = Field(30, ge=0, le=180)
    declined: bool = Field(False, description="the owner declined to share the chat history")
    phone_number_id: str | None = None


@router.post("/history")
async def history_backfill(body: HistoryIn, request: Request) -> dict:
    """Meta's history backfill of a coexistence number: one chunk per customer, or a declined share."""
    number = pick_number(state_of(request), body.phone_number_id)
    if body.declined:
        error = {
            "code": 2593109,
            "title": "History sharing is turned off by the business in the WhatsApp Business app",
        }
        items: list[dict[str, Any]] = [{"errors": [error]}]
    else:
        start = int(now_ts()) - body.days_ago * 86400
        items = []
        for i, customer in enumerate(body.customers):
            phone, _ = customer_ids(customer, number)
            chat = [
                {"from": phone, "id": new_wamid(), "timestamp": str(start + i * 60),
                 "type": "text", "text": {"body": "Hello, do you still have it?"},
                 "history_context": {"status": "READ"}},
                {"from": number.display_phone_number, "to": phone, "id": new_wamid(),
                 "timestamp": str(start + i * 60 + 30), "type": "text",
                 "text": {"body": "Yes, come by any time."},
                 "history_context": {"status": "READ"}},
            ]  # fmt: skip
            progress = round(100 * (i + 1) / len(body.customers))
            meta = {"phase": 1, "chunk_order": i + 1, "progress": progress}
            items.append({"metadata": meta, "threads": [{"id": phone, "messages": chat}]})
    payload = envelope(number, "history", {"history": items})
    return await deliver(request, number, payload, "history")


class CallIn(BaseModel):
    seconds: int = Field(0, ge=0, le=86400, description="0: a missed call")
    phone_number_id: str | None = None


@router.post("/customers/{customer}/call")
async def customer_calls(customer: str, body: CallIn, request: Request) -> dict:
    """The customer calls the business: `connect`, then `terminate` (missed when seconds = 0)."""
    number = pick_number(state_of(request), body.phone_number_id)
    phone, _ = customer_ids(customer, number)
    call_id = "wacid." + new_wamid().removeprefix("wamid.")
    base = {"id": call_id, "to": number.display_phone_number, "from": phone,
            "direction": "USER_INITIATED", "timestamp": now_ts()}  # fmt: skip
    await deliver(
        request,
        number,
        envelope(number, "calls", {"calls": [{**base, "event": "connect"}]}),
        "calls",
    )
    end: dict[str, Any] = {**base, "event": "terminate"}
    end["status"] = "Completed" if body.seconds else "Failed"
    if body.seconds:
        end["duration"] = body.seconds
    return {
        "call_id": call_id,
        **await deliver(request, number, envelope(number, "calls", {"calls": [end]}), "calls"),
    }


class AccountIn(BaseModel):
    event: Literal["restrict", "lift", "ban", "reinstate", "downgrade"] = "restrict"
    phone_number_id: str | None = None


@router.post("/account")
async def account_event(body: AccountIn, request: Request) -> dict:
    """Meta changes the business account's health (account_update / phone_number_quality_update)."""
    number = pick_number(state_of(request), body.phone_number_id)
    until = str(int(now_ts()) + 86400)
    field = "account_update"
    value: dict[str, Any] = {"phone_number": number.display_phone_number}
    if body.event == "restrict":
        value |= {"event": "ACCOUNT_RESTRICTION", "restriction_info": [
            {"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": until},
            {"restriction_type": "RESTRICTED_CUSTOMER_INITIATED_MESSAGING", "expiration": until}]}  # fmt: skip
    elif body.event == "lift":
        value |= {"event": "ACCOUNT_RESTRICTION", "restriction_info": []}
    elif body.event in ("ban", "reinstate"):
        state = "DISABLE" if body.event == "ban" else "REINSTATE"
        value |= {"event": "DISABLED_UPDATE", "ban_info": {"waba_ban_state": state}}
    else:
        field = "phone_number_quality_update"
        value = {"display_phone_number": number.display_phone_number, "event": "DOWNGRADE",
                 "current_limit": "TIER_1K", "old_limit": "TIER_10K"}  # fmt: skip
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": number.waba_id, "time": int(now_ts()),
                   "changes": [{"value": value, "field": field}]}],
    }  # fmt: skip
    return await deliver(request, number, payload, field)
