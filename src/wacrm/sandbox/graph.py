"""The Graph API routes: messages, media (upload, info, download), phone number, templates, WABA."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from wacrm.sandbox import errors, templates, validate
from wacrm.sandbox.account import phone_number_fields
from wacrm.sandbox.media import MediaObject
from wacrm.sandbox.payloads import bsuid_for, new_wamid
from wacrm.sandbox.state import Number, SandboxState, SentMessage, bearer_token, state_of
from wacrm.sandbox.webhooks import status_flow

router = APIRouter()
MEDIA_ROUTE = "/sandbox/media"


class DropConnection(Exception):
    """Raised after the response started: the server closes the connection mid-answer."""


class DroppedResponse(Response):
    """Starts an answer and never finishes it (fault `drop`)."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"512")],
            }
        )
        await send(
            {"type": "http.response.body", "body": b'{"messaging_product":', "more_body": True}
        )
        raise DropConnection("sandbox fault: connection dropped")


async def apply_fault(request: Request) -> str:
    """Apply the configured fault; returns "drop" when the answer must be cut off."""
    state = state_of(request)
    fault = state.faults.pick()
    if fault == "slow" or (fault == "drop" and state.faults.delay_ms):
        await asyncio.sleep(state.faults.delay_ms / 1000)
    if fault == "token_expired":
        raise errors.invalid_token(expired=True)
    if fault == "error5xx":
        raise errors.server_error()
    return fault


def authorize(request: Request, numbers: list[Number], node_id: str) -> Number:
    """The number whose token the request carries; 190 when it is not theirs, 100/33 if unknown."""
    state = state_of(request)
    token = bearer_token(request)
    if numbers:
        request.state.number_id = numbers[0].phone_number_id
    if state.number_for_token(token) is None:
        raise errors.invalid_token()
    if not numbers:
        raise errors.unknown_object(node_id, request.method.lower())
    for number in numbers:
        if number.access_token == token:
            request.state.number_id = number.phone_number_id
            return number
    raise errors.invalid_token()


def _number(request: Request, phone_number_id: str) -> Number:
    found = state_of(request).numbers.get(phone_number_id)
    return authorize(request, [found] if found else [], phone_number_id)


async def json_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, else Meta's invalid-parameter error."""
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise errors.invalid_parameter(f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise errors.invalid_parameter("The request body must be a JSON object.")
    return body


@router.post("/{phone_number_id}/messages")
async def send_message(phone_number_id: str, request: Request) -> Response:
    state = state_of(request)
    number = _number(request, phone_number_id)
    fault = await apply_fault(request)
    body = await json_body(request)
    if not number.registered:
        raise errors.not_registered()
    if body.get("status") == "read":
        if body.get("messaging_product") != "whatsapp" or not isinstance(
            body.get("message_id"), str
        ):
            raise errors.invalid_parameter(
                "Param message_id is required to mark a message as read."
            )
        _mark_read(state, number, body["message_id"])
        return JSONResponse({"success": True})
    out = validate.check_send(
        body, {m.id for m in state.media.values() if m.owner == phone_number_id}
    )
    known = next(
        (
            state.customers[(phone_number_id, k)]
            for k in (out.user_id, out.wa_id)
            if k and (phone_number_id, k) in state.customers
        ),
        None,
    )
    wa_id = out.wa_id or (known.phone if known else None)
    user_id = (
        out.user_id
        or (known.user_id if known else None)
        or (bsuid_for(wa_id, number.waba_id) if wa_id and number.bsuid else None)
    )
    failure = None
    keys = [k for k in (wa_id, user_id) if k]
    closed_by_hand = any(state.window_closed_by_hand(phone_number_id, k) for k in keys)
    if out.type != "template" and (
        closed_by_hand
        or (number.enforce_window and not any(state.window_open(phone_number_id, k) for k in keys))
    ):
        if number.window_error_via == "response":
            raise errors.outside_window()
        failure = errors.outside_window()
    if not state.take_throughput(number):
        raise errors.throughput()
    if not state.take_pair(number, out.key):
        raise errors.pair_rate()
    for key in (out.input, wa_id, user_id):
        if key and key in state.failing:
            failure = errors.undeliverable(**state.failing[key])
    msg = SentMessage(
        wamid=new_wamid(),
        phone_number_id=phone_number_id,
        to=out.input,
        wa_id=wa_id,
        user_id=user_id,
        type=out.type,
        request=body,
    )
    state.sent.append(msg)
    state.by_wamid[msg.wamid] = msg
    state.spawn(
        status_flow(
            state, request.app.state.http, number, msg, category=out.category, failure=failure
        )
    )
    contact: dict[str, Any] = {"input": out.input}
    if wa_id:
        contact["wa_id"] = wa_id
    if out.user_id:
        contact["user_id"] = out.user_id
    message: dict[str, Any] = {"id": msg.wamid}
    if out.type == "template":
        message["message_status"] = "accepted"
    if fault == "drop":
        return DroppedResponse()
    return JSONResponse(
        {"messaging_product": "whatsapp", "contacts": [contact], "messages": [message]}
    )


def _mark_read(state: SandboxState, number: Number, wamid: str) -> None:
    """Mark the customer's message and the earlier ones of that chat as read by the business."""
    for customer in {
        id(c): c for (n, _), c in state.customers.items() if n == number.phone_number_id
    }.values():
        if any(m["id"] == wamid for m in customer.inbound):
            for inbound in customer.inbound:
                inbound["read_by_business"] = True
                if inbound["id"] == wamid:
                    break


@router.post("/{phone_number_id}/media")
async def upload_media(phone_number_id: str, request: Request) -> Response:
    state = state_of(request)
    _number(request, phone_number_id)
    fault = await apply_fault(request)
    try:
        form = await request.form()
    except Exception as exc:  # noqa: BLE001 - any parse failure is the caller's bad request
        raise errors.invalid_parameter(f"The upload must be multipart/form-data: {exc}") from exc
    upload = form.get("file")
    if form.get("messaging_product") != "whatsapp":
        raise errors.invalid_parameter(
            "Param messaging_product is required and must be 'whatsapp'."
        )
    if upload is None or isinstance(upload, str):
        raise errors.invalid_parameter("Param file is required (a multipart file).")
    content = await upload.read()
    mime = str(form.get("type") or upload.content_type or "")
    if not content or "/" not in mime:
        raise errors.parameter_value("The file must not be empty and type must be a MIME type.")
    media = MediaObject(
        id=state.new_media_id(),
        owner=phone_number_id,
        mime_type=mime,
        content=content,
        filename=upload.filename,
    )
    state.media[media.id] = media
    return DroppedResponse() if fault == "drop" else JSONResponse({"id": media.id})


@router.get(MEDIA_ROUTE + "/{media_id}")
async def download_media(media_id: str, request: Request) -> Response:
    state = state_of(request)
    media = state.media.get(media_id)
    number = state.numbers.get(media.owner) if media else None
    authorize(request, [number] if number else [], media_id)
    await apply_fault(request)
    assert media is not None
    return Response(media.content, media_type=media.mime_type)


@router.get("/{waba_id}/message_templates")
async def list_templates(waba_id: str, request: Request) -> Response:
    authorize(request, state_of(request).numbers_of_waba(waba_id), waba_id)
    await apply_fault(request)
    q = request.query_params
    data = [
        t
        for t in templates.all_templates()
        if (not q.get("name") or t["name"] == q["name"])
        and (not q.get("status") or t["status"] == q["status"])
        and (not q.get("language") or t["language"] == q["language"])
    ]
    try:
        limit = int(q.get("limit", "25"))
    except ValueError as exc:
        raise errors.invalid_parameter("Param limit must be an integer.") from exc
    fields = [f for f in q.get("fields", "").split(",") if f]
    rows = [
        {k: v for k, v in t.items() if not fields or k in fields or k == "id"} for t in data[:limit]
    ]
    result: dict[str, Any] = {
        "data": rows,
        "paging": {"cursors": {"before": "MAZDZD", "after": "MjQZD"}},
    }
    if q.get("summary"):
        total = len(templates.all_templates())
        result["summary"] = {
            "total_count": len(data),
            "message_template_count": total,
            "message_template_limit": 250,
            "are_translations_complete": True,
        }
    return JSONResponse(result)


@router.get("/{node_id}")
async def get_node(node_id: str, request: Request) -> Response:
    state = state_of(request)
    if node_id in state.media:
        media = state.media[node_id]
        number = state.numbers.get(media.owner)
        authorize(request, [number] if number else [], node_id)
        await apply_fault(request)
        url = str(request.base_url).rstrip("/") + f"{MEDIA_ROUTE}/{media.id}?ts={int(time.time())}"
        return JSONResponse(
            {
                "url": url,
                "mime_type": media.mime_type,
                "sha256": media.sha256,
                "file_size": len(media.content),
                "id": media.id,
                "messaging_product": "whatsapp",
            }
        )
    number = _number(request, node_id)
    await apply_fault(request)
    return JSONResponse(phone_number_fields(number, request.query_params.get("fields", "")))
