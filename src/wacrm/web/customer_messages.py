"""/settings/customer-messages: what the workspace's customers receive about their orders."""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from babel.numbers import is_currency
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from wacrm import i18n
from wacrm.accounts.deps import AgentScope
from wacrm.i18n import validation
from wacrm.i18n.text import Text
from wacrm.numbers import service as numbers
from wacrm.orders.errors import OrderError
from wacrm.orders.money import check_currency
from wacrm.outbound import notifications, service, template_text, templates
from wacrm.outbound.errors import SendError
from wacrm.outbound.schemas import NotificationSettingsIn
from wacrm.web.deps import web_manager, web_workspace
from wacrm.web.templating import render

router = APIRouter(include_in_schema=False)
STATUSES = tuple(notifications.DEFAULT_TEXTS)
NAMED_PARAM = re.compile(r"\{\{\s*[^\d\s}]")  # {{name}}: a status message fills numbered ones


def _usable(template: dict[str, Any]) -> bool:
    """Approved, and nothing to fill but at most one body parameter per status message variable
    (no media header, no header or button variable)."""
    components = template.get("components") or []
    if (template.get("status") or "APPROVED").upper() != "APPROVED":
        return False
    others = [c for c in components if str(c.get("type", "")).upper() != "BODY"]
    if any(str(c.get("format") or "TEXT").upper() != "TEXT" for c in others):
        return False
    if any(template_text.PARAM.search(json.dumps(c)) for c in others):
        return False
    body = template_text.body_text(components)
    if NAMED_PARAM.search(body):
        return False
    return template_text.param_count(body) <= len(notifications.VARIABLES)


async def _templates(
    request: Request, scope: AgentScope, *, refresh: bool = False
) -> list[dict[str, Any]]:
    """The synced templates of the workspace's number a status message can use (the cache; with
    `refresh`, listed from Meta again first, for a POST)."""
    conn = scope.db
    config = await numbers.get_by_agent_id(conn, agent_id=scope.agent_id)
    if config is None:
        return []
    found = await templates.cached(conn, config_id=config["id"])
    if refresh:
        with contextlib.suppress(SendError):
            found = await templates.refresh(
                conn, config=config, graph=request.app.state.settings.graph_api
            )
    return [
        {
            "key": f"{t['name']}|{t['language']}",
            "text": template_text.body_text(t["components"]),
        }
        for t in found
        if _usable(t)
    ]


async def _template_error(request: Request, scope: AgentScope, chosen: str, saved: str) -> str:
    """Why the chosen template cannot be used ('' when it can): it must be one of the synced ones
    (listed from Meta again when it is not in the cache), unless it is the one saved already."""
    if chosen == saved:
        return ""
    for refresh in (False, True):
        if chosen in {t["key"] for t in await _templates(request, scope, refresh=refresh)}:
            return ""
    return i18n.gettext("Choose one of the approved templates listed.")


async def _page(
    request: Request,
    scope: AgentScope,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    saved: bool = False,
) -> Response:
    defaults = {}
    for status in STATUSES:
        with i18n.in_language(values.get("language") or i18n.DEFAULT_LANGUAGE):
            defaults[status] = i18n.gettext(notifications.DEFAULT_TEXTS[status])
    return await render(
        request,
        "customer_messages.html",
        user=scope.user,
        scope=scope,
        nav="customer-messages",
        status_code=status_code,
        values=values,
        errors=errors or {},
        saved=saved,
        statuses=STATUSES,
        defaults=defaults,
        templates=await _templates(request, scope),
    )


@router.get("/settings/customer-messages", response_class=HTMLResponse)
async def customer_messages_page(
    request: Request, scope: AgentScope = Depends(web_workspace), saved: bool = False
) -> Response:
    values = await notifications.get_settings(scope.db, agent_id=scope.agent_id)
    return await _page(request, scope, values, saved=saved)


@router.post("/settings/customer-messages", response_class=HTMLResponse)
async def save_customer_messages(
    request: Request, scope: AgentScope = Depends(web_manager)
) -> Response:
    form = await request.form()
    template = str(form.get("template") or "")
    name, _sep, language = template.partition("|")
    values: dict[str, Any] = {
        "language": str(form.get("language") or ""),
        "default_currency": str(form.get("default_currency") or "").strip().upper(),
        "notify_order_status": form.get("notify_order_status") == "true",
        "status_texts": {s: str(form.get(f"text_{s}") or "") for s in STATUSES},
        "template_name": name or None,
        "template_language": language or None,
    }
    errors = _check(values)
    current = await notifications.get_settings(scope.db, agent_id=scope.agent_id)
    saved_key = f"{current['template_name']}|{current['template_language']}"
    template_error = await _template_error(request, scope, template, saved_key)
    if template_error:
        errors["template"] = template_error
    if not errors:
        try:
            await notifications.save_settings(
                scope.db, agent_id=scope.agent_id, **NotificationSettingsIn(**values).model_dump()
            )
        except service.OutboundError as exc:
            errors["texts"] = str(exc)
        except ValidationError as exc:
            errors["form"] = str(validation.message(exc.errors()[0]))
    if errors:
        shown = {**values, "template_name": name, "template_language": language}
        return await _page(request, scope, shown, errors, status_code=400)
    return RedirectResponse("/settings/customer-messages?saved=true", status_code=303)


def _check(values: dict[str, Any]) -> dict[str, str]:
    """The form's errors by field (the service checks the texts' variables)."""
    errors: dict[str, str] = {}
    if values["language"] and i18n.normalize_language(values["language"]) is None:
        errors["language"] = i18n.gettext("Choose one of the languages listed.")
    try:
        values["default_currency"] = check_currency(values["default_currency"])
        if not is_currency(values["default_currency"]):
            raise OrderError(Text("not an ISO 4217 currency"))
    except OrderError:
        errors["default_currency"] = i18n.gettext(
            "Give an ISO 4217 currency code of three letters, such as BRL, EUR or USD."
        )
    for status, text in values["status_texts"].items():
        if text.strip():
            try:
                notifications.check_text(text)
            except service.OutboundError as exc:
                errors[f"text_{status}"] = str(exc)
    return errors
