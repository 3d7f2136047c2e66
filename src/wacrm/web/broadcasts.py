"""The broadcasts pages: compose (template, parameters, audience, preview, now or later), list,
and one broadcast's live counters with cancel."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from wacrm.accounts.deps import AgentScope
from wacrm.broadcasts import audience as audiences
from wacrm.broadcasts import service
from wacrm.i18n import gettext as _
from wacrm.i18n.text import Text
from wacrm.web.deps import web_workspace
from wacrm.web.templating import fragment, render
from wacrm.web.viewer import resolve as resolve_viewer

router = APIRouter(prefix="/broadcasts", include_in_schema=False)
BroadcastId = Path(..., ge=1, le=2**63 - 1)


class ComposeForm:
    """The compose form's fields, checked once; `errors` holds what is wrong, by field."""

    def __init__(
        self,
        name: str = Form("", max_length=120),
        template: str = Form("", max_length=600),
        params: list[str] = Form([]),
        header_media: str = Form("", max_length=2000),
        labels: list[str] = Form([]),
        contact_after: str = Form("", max_length=10),
        contact_before: str = Form("", max_length=10),
        has_orders: str = Form("", pattern="^(|yes|no)$"),
        opted_in_only: bool = Form(False),
        when: str = Form("now", pattern="^(now|later)$"),
        scheduled_at: str = Form("", max_length=16),
    ) -> None:
        self.values: dict[str, Any] = {
            "name": name,
            "template": template,
            "params": params,
            "header_media": header_media,
            "labels": labels,
            "contact_after": contact_after,
            "contact_before": contact_before,
            "has_orders": has_orders,
            "opted_in_only": opted_in_only,
            "when": when,
            "scheduled_at": scheduled_at,
        }
        self.errors: dict[str, str] = {}
        self.template_name, _sep, self.language = template.partition("|")

    def _day(self, field: str, tz: Any) -> datetime | None:
        value = self.values[field].strip()
        if not value:
            return None
        try:
            return datetime.combine(date.fromisoformat(value), time(), tz)
        except ValueError:
            self.errors[field] = _("give a date like 2026-01-31")
            return None

    def audience(self, tz: Any) -> audiences.Audience:
        before = self._day("contact_before", tz)
        return audiences.Audience(
            labels=self.values["labels"][:20],
            last_contact_after=self._day("contact_after", tz),
            last_contact_before=before + timedelta(days=1) if before else None,
            has_orders={"yes": True, "no": False}.get(self.values["has_orders"]),
            opted_in_only=self.values["opted_in_only"],
        )

    def scheduled(self, tz: Any) -> datetime | None:
        if self.values["when"] == "now":
            return None
        try:
            at = datetime.fromisoformat(self.values["scheduled_at"]).replace(tzinfo=tz)
        except ValueError:
            self.errors["scheduled_at"] = _("choose the day and time to send")
            return None
        if at < datetime.now(tz):
            self.errors["scheduled_at"] = _("that time has passed: choose a later one, or send now")
        return at


async def _labels(request: Request, scope: AgentScope) -> list[str]:
    conn = scope.db
    cur = await conn.execute(
        "SELECT name FROM workspace_labels WHERE agent_id = %s ORDER BY name", (scope.agent_id,)
    )
    return [r["name"] for r in await cur.fetchall()]


async def _compose(
    request: Request, scope: AgentScope, *, form: ComposeForm | None = None, status_code: int = 200
) -> Response:
    conn = scope.db
    listed = await service.list_broadcasts(conn, agent_id=scope.agent_id)
    try:
        usable = await service.approved_templates(
            conn, agent_id=scope.agent_id, graph=request.app.state.settings.graph_api
        )
        problem = None
    except service.BroadcastError as exc:
        usable, problem = [], str(exc)
    values = form.values if form else {"when": "now", "params": [], "labels": []}
    chosen = next(
        (t for t in usable if f"{t['name']}|{t['language']}" == values.get("template")), None
    )
    return await render(
        request,
        "broadcasts.html",
        user=scope.user,
        scope=scope,
        nav="broadcasts",
        status_code=status_code,
        broadcasts=listed,
        templates=usable,
        template_problem=problem,
        chosen=chosen,
        form=values,
        errors=form.errors if form else {},
        labels=await _labels(request, scope),
        body_of=_body,
    )


def _body(template: dict[str, Any] | None) -> str:
    for comp in (template or {}).get("components") or []:
        if str(comp.get("type", "")).upper() == "BODY":
            return str(comp.get("text", ""))
    return ""


def _render_text(
    template: dict[str, Any] | None, params: list[str], customer: dict[str, Any]
) -> str:
    """The body as this customer would read it."""
    filled = [service.personalize(p, customer) for p in params]
    keys = list(dict.fromkeys(re.findall(r"\{\{\s*(\w+)\s*\}\}", _body(template))))
    values = dict(zip(keys, filled, strict=False))
    return re.sub(
        r"\{\{\s*(\w+)\s*\}\}", lambda m: values.get(m.group(1), m.group(0)), _body(template)
    )


@router.get("", response_class=HTMLResponse)
async def broadcasts_page(request: Request, scope: AgentScope = Depends(web_workspace)) -> Response:
    return await _compose(request, scope)


@router.get("/params", response_class=HTMLResponse)
async def params_fields(
    request: Request,
    template: str = Query("", max_length=600),
    scope: AgentScope = Depends(web_workspace),
) -> Response:
    """The parameter inputs of the chosen template (htmx, when the template changes)."""
    conn = scope.db
    try:
        usable = await service.approved_templates(
            conn, agent_id=scope.agent_id, graph=request.app.state.settings.graph_api
        )
    except service.BroadcastError:
        usable = []
    chosen = next((t for t in usable if f"{t['name']}|{t['language']}" == template), None)
    await resolve_viewer(request)
    return HTMLResponse(
        fragment(
            "partials/broadcast_params.html",
            chosen=chosen,
            form={"params": []},
            errors={},
            body_of=_body,
        )
    )


@router.post("/preview", response_class=HTMLResponse)
async def preview(
    request: Request, form: ComposeForm = Depends(), scope: AgentScope = Depends(web_workspace)
) -> Response:
    """How many customers the audience has and the message as three of them would read it."""
    viewer = await resolve_viewer(request)
    audience = form.audience(viewer.tz)
    conn = scope.db
    count = await audiences.count(conn, tables=scope.tables, audience=audience)
    sample = await audiences.sample(conn, tables=scope.tables, audience=audience)
    try:
        usable = await service.approved_templates(
            conn, agent_id=scope.agent_id, graph=request.app.state.settings.graph_api
        )
    except service.BroadcastError:
        usable = []
    chosen = next(
        (t for t in usable if t["name"] == form.template_name and t["language"] == form.language),
        None,
    )
    texts = [(c, _render_text(chosen, form.values["params"], c)) for c in sample]
    return HTMLResponse(
        fragment(
            "partials/broadcast_preview.html",
            count=count,
            texts=texts,
            chosen=chosen,
            errors=form.errors,
        )
    )


@router.post("", response_class=HTMLResponse)
async def create(
    request: Request, form: ComposeForm = Depends(), scope: AgentScope = Depends(web_workspace)
) -> Response:
    viewer = await resolve_viewer(request)
    audience, scheduled = form.audience(viewer.tz), form.scheduled(viewer.tz)
    if not form.errors:
        conn = scope.db
        try:
            made = await service.create(
                conn,
                tables=scope.tables,
                name=form.values["name"],
                template_name=form.template_name,
                language=form.language,
                params=form.values["params"],
                header_media=form.values["header_media"],
                audience=audience,
                scheduled_at=scheduled,
                created_by=scope.user.id,
                graph=request.app.state.settings.graph_api,
            )
            return RedirectResponse(f"/broadcasts/{made['id']}", status_code=303)
        except service.BroadcastError as exc:
            form.errors[exc.field or "form"] = str(exc)
            status = exc.status
    else:
        status = 422
    return await _compose(request, scope, form=form, status_code=status)


async def _get(request: Request, scope: AgentScope, broadcast_id: int) -> dict[str, Any]:
    conn = scope.db
    found = await service.get(conn, tables=scope.tables, broadcast_id=broadcast_id)
    if found is None:
        raise HTTPException(
            404, detail=str(Text("no broadcast {id} in this workspace", id=broadcast_id))
        )
    return found


@router.get("/{broadcast_id:int}", response_class=HTMLResponse)
async def broadcast_page(
    request: Request, broadcast_id: int = BroadcastId, scope: AgentScope = Depends(web_workspace)
) -> Response:
    found = await _get(request, scope, broadcast_id)
    return await render(
        request, "broadcast.html", user=scope.user, scope=scope, nav="broadcasts", b=found
    )


@router.get("/{broadcast_id}/counters", response_class=HTMLResponse)
async def counters(
    request: Request, broadcast_id: int = BroadcastId, scope: AgentScope = Depends(web_workspace)
) -> Response:
    """The live counters block (polled every 2 s while the broadcast is under way)."""
    found = await _get(request, scope, broadcast_id)
    await resolve_viewer(request)
    return HTMLResponse(
        fragment("partials/broadcast_counters.html", b=found, csrf_token=scope.user.csrf_token)
    )


@router.post("/{broadcast_id}/cancel")
async def cancel(
    request: Request, broadcast_id: int = BroadcastId, scope: AgentScope = Depends(web_workspace)
) -> Response:
    conn = scope.db
    await service.cancel(conn, tables=scope.tables, broadcast_id=broadcast_id)
    return RedirectResponse(f"/broadcasts/{broadcast_id}", status_code=303)
