"""The sandbox's own control API: numbers, playing customers, inspection, faults, reset."""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from wacrm.sandbox.customer import MEDIA_KINDS, build_message
from wacrm.sandbox.media import SAMPLES, MediaObject
from wacrm.sandbox.page import PAGE
from wacrm.sandbox.payloads import bsuid_for, build_inbound_payload, dumps, is_bsuid, sign
from wacrm.sandbox.schemas import CustomerSendIn, FailIn, FaultsIn, NumberIn, ResetIn, WindowIn
from wacrm.sandbox.state import Faults, Number, SandboxState, state_of
from wacrm.sandbox.webhooks import post_signed

router = APIRouter(prefix="/sandbox")


def _pick_number(state: SandboxState, phone_number_id: str | None) -> Number:
    if phone_number_id is None:
        if len(state.numbers) != 1:
            raise HTTPException(
                422,
                "give phone_number_id: the sandbox has "
                f"{len(state.numbers)} numbers registered (POST /sandbox/numbers)",
            )
        return next(iter(state.numbers.values()))
    number = state.numbers.get(phone_number_id)
    if number is None:
        raise HTTPException(
            404, f"no number {phone_number_id} is registered; POST /sandbox/numbers first"
        )
    return number


pick_number = _pick_number  # public: the other control endpoints (plays.py) pick numbers too


def _identity(customer: str, body: CustomerSendIn, number: Number) -> tuple[str | None, str | None]:
    """(phone, BSUID) of the played customer, from the path and the body's shape options."""
    if is_bsuid(customer):
        if body.shape == "old":
            raise HTTPException(422, "a customer known only by BSUID needs shape 'new'")
        return None, customer
    phone = re.sub(r"[\s\-+()]", "", customer)
    if not phone.isdigit() or not 7 <= len(phone) <= 15:
        raise HTTPException(
            422,
            f"{customer!r} is neither a phone number (7-15 digits) nor a BSUID "
            "like US.13491208655302741918",
        )
    if body.shape == "old":
        if body.hide_phone:
            raise HTTPException(
                422, "hide_phone needs shape 'new' (old payloads always carry the phone)"
            )
        return phone, None
    user_id = body.user_id or bsuid_for(phone, number.waba_id)
    return (None if body.hide_phone else phone), user_id


@router.get("", include_in_schema=False)
async def page_redirect() -> RedirectResponse:
    return RedirectResponse("/sandbox/")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    return HTMLResponse(PAGE)


@router.post("/numbers", status_code=201)
async def register_number(body: NumberIn, request: Request, response: Response) -> dict[str, Any]:
    state = state_of(request)
    if body.phone_number_id in state.numbers:
        response.status_code = 200
    number = body.to_number(state.config.status_delays_ms)
    state.numbers[number.phone_number_id] = number
    return number.public()


@router.get("/numbers")
async def list_numbers(request: Request) -> dict[str, Any]:
    return {"numbers": [n.public() for n in state_of(request).numbers.values()]}


@router.post("/customers/{customer}/send")
async def send_as_customer(customer: str, body: CustomerSendIn, request: Request) -> dict[str, Any]:
    state = state_of(request)
    number = _pick_number(state, body.phone_number_id)
    phone, user_id = _identity(customer, body, number)
    if body.deliver and not number.webhook_url:
        raise HTTPException(
            409, f"number {number.phone_number_id} has no webhook_url to deliver to"
        )
    media = None
    if body.type in MEDIA_KINDS:
        mime, filename, data = SAMPLES[body.type]
        obj = MediaObject(
            id=state.new_media_id(),
            owner=number.phone_number_id,
            mime_type=mime,
            content=data,
            filename=filename,
        )
        state.media[obj.id] = obj
        media = {"id": obj.id, "mime_type": mime, "sha256": obj.sha256, "filename": filename}
    content = body.content if body.content is not None else body.text
    try:
        message = build_message(
            body.type,
            content,
            business_phone=number.display_phone_number,
            media=media,
            timestamp=body.timestamp,
            context_message_id=body.context_message_id,
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    message.update(body.extra)
    payload = build_inbound_payload(
        phone_number_id=number.phone_number_id,
        display_phone_number=number.display_phone_number,
        waba_id=number.waba_id,
        message=message,
        phone=phone,
        user_id=user_id,
        name=body.name,
        username=body.username,
    )
    person = state.customer(number.phone_number_id, phone, user_id)
    person.name, person.username = body.name, body.username or person.username
    sent_at = float(message["timestamp"])
    person.last_inbound = max(person.last_inbound or 0, sent_at)
    person.window_closed = False  # the customer wrote: the window is open again
    record: dict[str, Any] = {
        "id": message["id"],
        "type": message["type"],
        "message": message,
        "at": time.time(),
        "crm_status": None,
    }
    person.inbound.append(record)
    raw = dumps(payload)
    status = None
    if body.deliver:
        http = request.app.state.http
        status = await post_signed(state, http, number, payload, kind="message", retry=False)
        if status != 200:
            state.spawn(post_signed(state, http, number, payload, kind="message", start_attempt=1))
    record["crm_status"] = status
    return {
        "wamid": message["id"],
        "status_code": status,
        "phone": phone,
        "user_id": user_id,
        "media_id": media["id"] if media else None,
        "payload": payload,
        "body": raw.decode(),
        "signature": sign(raw, number.app_secret),
    }


@router.post("/customers/{customer}/window")
async def set_window(customer: str, body: WindowIn, request: Request) -> dict[str, Any]:
    """Open (or close) the 24-hour window as if the customer had written at `last_inbound_at`."""
    state = state_of(request)
    number = _pick_number(state, body.phone_number_id)
    phone = None if is_bsuid(customer) else re.sub(r"\D", "", customer)
    user_id = (
        customer if is_bsuid(customer) else (bsuid_for(phone, number.waba_id) if phone else None)
    )
    if not phone and not user_id:
        raise HTTPException(422, f"{customer!r} is neither a phone number nor a BSUID")
    person = state.customer(number.phone_number_id, phone, user_id)
    person.last_inbound = body.last_inbound_at
    is_open = any(state.window_open(number.phone_number_id, k) for k in (phone, user_id) if k)
    person.window_closed = not is_open
    return {"open": is_open}


@router.post("/recipients/{recipient}/fail")
async def fail_recipient(recipient: str, body: FailIn, request: Request) -> dict[str, Any]:
    """Messages to this recipient are accepted and then get a `failed` status with `code`."""
    state_of(request).failing[recipient] = {"code": body.code, "details": body.details}
    return {"recipient": recipient, **body.model_dump()}


@router.delete("/recipients/{recipient}/fail", status_code=204)
async def unfail_recipient(recipient: str, request: Request) -> Response:
    state_of(request).failing.pop(recipient, None)
    return Response(status_code=204)


@router.get("/messages")
async def sent_messages(
    request: Request, phone_number_id: str | None = None, to: str | None = None
) -> dict[str, Any]:
    """What the business sent (optionally for one number / recipient), with error counts."""
    state = state_of(request)
    rows = [
        m.public()
        for m in state.sent
        if (phone_number_id is None or m.phone_number_id == phone_number_id)
        and (to is None or to in (m.to, m.wa_id, m.user_id))
    ]
    counts: dict[str, int] = {}
    for number_id, counter in state.errors.items():
        if phone_number_id is None or number_id == phone_number_id:
            for code, n in counter.items():
                counts[str(code)] = counts.get(str(code), 0) + n
    return {"count": len(rows), "messages": rows, "errors": counts}


@router.get("/customers")
async def customers(request: Request, phone_number_id: str | None = None) -> dict[str, Any]:
    """Customers the sandbox played, with what they sent and what the business sent them."""
    state = state_of(request)
    seen: dict[int, dict[str, Any]] = {}
    for (number_id, _), person in state.customers.items():
        if (phone_number_id and number_id != phone_number_id) or id(person) in seen:
            continue
        keys = {k for k in (person.phone, person.user_id) if k}
        sent = [
            m.public()
            for m in state.sent
            if m.phone_number_id == number_id and keys & {m.to, m.wa_id, m.user_id}
        ]
        seen[id(person)] = {
            "phone_number_id": number_id,
            "phone": person.phone,
            "user_id": person.user_id,
            "name": person.name,
            "username": person.username,
            "last_inbound": person.last_inbound,
            "inbound": person.inbound,
            "sent": sent,
        }
    return {"customers": list(seen.values())}


@router.get("/webhooks")
async def webhook_log(request: Request) -> dict[str, Any]:
    return {"deliveries": state_of(request).webhook_log}


@router.post("/faults")
async def set_faults(body: FaultsIn, request: Request) -> dict[str, Any]:
    state_of(request).faults = Faults(**body.model_dump())
    return body.model_dump()


@router.get("/faults")
async def get_faults(request: Request) -> dict[str, Any]:
    return dict(state_of(request).faults.__dict__)


@router.post("/reset")
async def reset(request: Request, body: ResetIn | None = None) -> dict[str, Any]:
    state_of(request).reset(keep_numbers=bool(body and body.keep_numbers))
    return {"reset": True}
