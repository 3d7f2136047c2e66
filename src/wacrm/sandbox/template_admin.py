"""Meta's side of template management: create, edit and delete message templates, a review that
approves after `template_review_s` (or rejects names asked for), and the webhooks that tell the
CRM (`message_template_status_update`, `template_category_update`)."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from wacrm.sandbox import errors, templates
from wacrm.sandbox.graph import apply_fault, authorize, json_body
from wacrm.sandbox.state import SandboxState, state_of
from wacrm.sandbox.uploads import check_media_header
from wacrm.sandbox.webhooks import post_signed

router = APIRouter()
NAME = re.compile(r"^[a-z0-9_]{1,512}$")
CATEGORIES = {"MARKETING", "UTILITY", "AUTHENTICATION"}
# a UTILITY template whose body reads like an offer is recategorized, as Meta does
PROMOTIONAL = re.compile(r"\b(discount|% off|sale|offer|promo)", re.I)


def _check(state: SandboxState, body: dict[str, Any], *, editing: bool = False) -> None:
    if not editing and not NAME.match(str(body.get("name", ""))):
        raise errors.invalid_parameter(
            "Param name must be lower case letters, digits and underscores, at most 512."
        )
    if not editing and not body.get("language"):
        raise errors.invalid_parameter("Param language is required.")
    category = str(body.get("category", "")).upper()
    if (category or not editing) and category not in CATEGORIES:
        raise errors.invalid_parameter(
            "Param category must be MARKETING, UTILITY or AUTHENTICATION."
        )
    components = body.get("components")
    if not isinstance(components, list) or not any(
        isinstance(c, dict) and str(c.get("type", "")).upper() == "BODY" for c in components
    ):
        raise errors.invalid_parameter("Param components must be a list with a BODY component.")
    for component in components:
        if isinstance(component, dict) and str(component.get("type", "")).upper() == "HEADER":
            check_media_header(state, component)


async def _notify(
    state: SandboxState, http: httpx.AsyncClient, waba_id: str, field: str, value: dict[str, Any]
) -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": waba_id, "time": int(time.time()), "changes": [{"field": field, "value": value}]}
        ],
    }
    for number in state.numbers_of_waba(waba_id):
        if number.webhook_url:
            await post_signed(state, http, number, payload, kind=field)
            return


async def _review(state: SandboxState, http: httpx.AsyncClient, template: dict[str, Any]) -> None:
    """After the review delay: approve (recategorizing offers sent as UTILITY) or reject."""
    await asyncio.sleep(state.config.template_review_s)
    ident = {
        "message_template_id": int(template["id"]),
        "message_template_name": template["name"],
        "message_template_language": template["language"],
    }
    reason = state.reject_names.get(template["name"])
    if reason is not None:
        template["status"] = "REJECTED"
        template["rejected_reason"] = reason
        await _notify(
            state,
            http,
            template["waba_id"],
            "message_template_status_update",
            {"event": "REJECTED", **ident, "reason": reason},
        )
        return
    body = next(c for c in template["components"] if str(c.get("type", "")).upper() == "BODY")
    if template["category"] == "UTILITY" and PROMOTIONAL.search(str(body.get("text", ""))):
        template["category"] = "MARKETING"
        await _notify(
            state,
            http,
            template["waba_id"],
            "template_category_update",
            {**ident, "previous_category": "UTILITY", "new_category": "MARKETING"},
        )
    template["status"] = "APPROVED"
    template["rejected_reason"] = "NONE"
    await _notify(
        state,
        http,
        template["waba_id"],
        "message_template_status_update",
        {"event": "APPROVED", **ident, "reason": "NONE"},
    )


@router.post("/{waba_id}/message_templates")
async def create_template(waba_id: str, request: Request) -> Response:
    state = state_of(request)
    authorize(request, state.numbers_of_waba(waba_id), waba_id)
    await apply_fault(request)
    body = await json_body(request)
    _check(state, body)
    if any(
        t["name"] == body["name"] and t["language"] == body["language"]
        for t in templates.all_templates()
    ):
        raise errors.invalid_parameter(
            f"Content in this language already exists: {body['name']} ({body['language']})."
        )
    template = {
        "name": body["name"],
        "language": body["language"],
        "status": "PENDING",
        "category": str(body["category"]).upper(),
        "components": body["components"],
        "parameter_format": body.get("parameter_format", "POSITIONAL"),
        "id": str(10**15 + secrets.randbelow(9 * 10**15)),
        "waba_id": waba_id,
    }
    state.created_templates.append(template)
    state.spawn(_review(state, request.app.state.http, template))
    return JSONResponse(
        {"id": template["id"], "status": "PENDING", "category": template["category"]}
    )


@router.post("/{template_id}")
async def edit_template(template_id: str, request: Request) -> Response:
    state = state_of(request)
    template = next((t for t in state.created_templates if t["id"] == template_id), None)
    authorize(request, state.numbers_of_waba(template["waba_id"]) if template else [], template_id)
    assert template is not None
    await apply_fault(request)
    body = await json_body(request)
    _check(state, body, editing=True)
    template["components"] = body["components"]
    if body.get("category"):
        template["category"] = str(body["category"]).upper()
    template["status"] = "PENDING"
    state.spawn(_review(state, request.app.state.http, template))
    return JSONResponse({"success": True})


@router.delete("/{waba_id}/message_templates")
async def delete_template(waba_id: str, request: Request) -> Response:
    state = state_of(request)
    authorize(request, state.numbers_of_waba(waba_id), waba_id)
    await apply_fault(request)
    name, hsm_id = request.query_params.get("name"), request.query_params.get("hsm_id")
    gone = [
        t
        for t in state.created_templates
        if t["name"] == name and (not hsm_id or t["id"] == hsm_id)
    ]
    if not name or not gone:
        raise errors.invalid_parameter(f"Message template {name!r} does not exist.")
    for t in gone:
        state.created_templates.remove(t)
    return JSONResponse({"success": True})


@router.post("/sandbox/templates/reject")
async def reject_name(request: Request) -> Response:
    """Make the review reject a template name (body: name, reason like INVALID_FORMAT)."""
    body = await json_body(request)
    state_of(request).reject_names[str(body.get("name", ""))] = str(
        body.get("reason") or "INVALID_FORMAT"
    )
    return JSONResponse({"ok": True})
