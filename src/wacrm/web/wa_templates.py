"""The message templates page: list with Meta's status and rejection reasons (kept live), create,
edit, delete, refresh from WhatsApp."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from wacrm.accounts.deps import AgentScope
from wacrm.i18n import gettext as _
from wacrm.i18n.text import Text
from wacrm.numbers import service as numbers
from wacrm.outbound import errors as send_errors
from wacrm.outbound import templates as cache
from wacrm.wa_templates import rules, service
from wacrm.web.deps import web_manager, web_workspace
from wacrm.web.templating import fragment, render
from wacrm.web.viewer import resolve as resolve_viewer

router = APIRouter(prefix="/templates", include_in_schema=False)


def draft_form(
    name: str = Form("", max_length=512),
    language: str = Form("en_US", max_length=16),
    category: str = Form("UTILITY", max_length=20),
    header_format: str = Form("TEXT", max_length=20),
    header_handle: str = Form("", max_length=2000),
    header: str = Form("", max_length=200),
    header_example: str = Form("", max_length=200),
    body: str = Form("", max_length=2000),
    body_examples: str = Form("", max_length=4000),
    footer: str = Form("", max_length=200),
    quick_replies: str = Form("", max_length=1000),
    url_text: str = Form("", max_length=100),
    url: str = Form("", max_length=2100),
    phone_text: str = Form("", max_length=100),
    phone: str = Form("", max_length=30),
) -> rules.Draft:
    return rules.Draft(
        name=name.strip(),
        language=language.strip(),
        category=category.strip().upper(),
        body=body,
        body_examples=[x for x in body_examples.splitlines() if x.strip()],
        header_format=header_format.strip().upper() or "TEXT",
        header_handle=header_handle.strip(),
        header=header,
        header_example=header_example,
        footer=footer,
        quick_replies=[x for x in quick_replies.splitlines() if x.strip()],
        url_text=url_text,
        url=url,
        phone_text=phone_text,
        phone=phone,
    )


async def _with_sample(
    request: Request, config: dict[str, Any], draft: rules.Draft, header_file: UploadFile | None
) -> None:
    """A chosen sample file of a media header uploaded to Meta (its handle replaces any kept one)."""
    if draft.header_format not in rules.MEDIA_SAMPLES or header_file is None:
        return
    if not header_file.filename:
        return
    largest = rules.MEDIA_SAMPLES[draft.header_format][1]
    data = await header_file.read(largest + 1)
    await service.attach_sample(
        config,
        draft,
        data,
        header_file.content_type or "",
        header_file.filename,
        graph=request.app.state.settings.graph_api,
    )


async def _config(request: Request, scope: AgentScope) -> dict[str, Any]:
    conn = scope.db
    config = await numbers.get_by_agent_id(conn, agent_id=scope.agent_id)
    if config is None:
        raise HTTPException(
            409, detail=_("this workspace has no WhatsApp number: connect one first")
        )
    return config


def _rows(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **t,
            "reason_text": service.explain_reason(t.get("rejected_reason")),
            "pending": t.get("status") == "PENDING",
        }
        for t in found
    ]


async def _page(
    request: Request,
    scope: AgentScope,
    *,
    draft: rules.Draft | None = None,
    errors: Mapping[str, Text | str] | None = None,
    status_code: int = 200,
    editing: bool = False,
    notice: str | None = None,
) -> Response:
    config = await _config(request, scope)
    conn = scope.db
    found = await cache.cached(conn, config_id=config["id"])
    return await render(
        request,
        "wa_templates.html",
        user=scope.user,
        scope=scope,
        nav="templates",
        status_code=status_code,
        templates=_rows(found),
        errors=errors or {},
        editing=editing,
        draft=asdict(draft or rules.Draft(name="", language="en_US", category="UTILITY", body="")),
        notice=notice,
    )


@router.get("", response_class=HTMLResponse)
async def templates_page(
    request: Request,
    done: str = Query("", max_length=20),
    scope: AgentScope = Depends(web_workspace),
) -> Response:
    notices = {
        "created": "Submitted: WhatsApp reviews the template (its status changes here by itself).",
        "edited": "Changes submitted: WhatsApp reviews the template again.",
        "deleted": "Template deleted.",
        "refreshed": "List refreshed from WhatsApp.",
    }
    return await _page(request, scope, notice=notices.get(done))


@router.get("/list", response_class=HTMLResponse)
async def templates_list(request: Request, scope: AgentScope = Depends(web_workspace)) -> Response:
    """The list block (polled while a template is pending review)."""
    config = await _config(request, scope)
    conn = scope.db
    found = await cache.cached(conn, config_id=config["id"])
    await resolve_viewer(request)
    return HTMLResponse(
        fragment(
            "partials/wa_templates_list.html",
            templates=_rows(found),
            csrf_token=scope.user.csrf_token,
        )
    )


@router.post("", response_class=HTMLResponse)
async def create(
    request: Request,
    draft: rules.Draft = Depends(draft_form),
    header_file: UploadFile | None = File(None),
    scope: AgentScope = Depends(web_manager),
) -> Response:
    config = await _config(request, scope)
    conn = scope.db
    try:
        await _with_sample(request, config, draft, header_file)
        await service.submit(
            conn, config=config, draft=draft, graph=request.app.state.settings.graph_api
        )
    except service.TemplateError as exc:
        return await _page(request, scope, draft=draft, errors=exc.errors, status_code=exc.status)
    return RedirectResponse("/templates?done=created", status_code=303)


@router.get("/edit", response_class=HTMLResponse)
async def edit_page(
    request: Request,
    name: str = Query(..., max_length=512),
    language: str = Query(..., max_length=16),
    scope: AgentScope = Depends(web_workspace),
) -> Response:
    config = await _config(request, scope)
    conn = scope.db
    found = await service.get(conn, config_id=config["id"], name=name, language=language)
    if found is None:
        raise HTTPException(
            404, detail=str(Text("no template {name} ({language})", name=name, language=language))
        )
    return await _page(request, scope, draft=rules.draft_of(found), editing=True)


@router.post("/edit", response_class=HTMLResponse)
async def edit(
    request: Request,
    draft: rules.Draft = Depends(draft_form),
    header_file: UploadFile | None = File(None),
    scope: AgentScope = Depends(web_manager),
) -> Response:
    config = await _config(request, scope)
    conn = scope.db
    try:
        await _with_sample(request, config, draft, header_file)
        await service.edit(
            conn, config=config, draft=draft, graph=request.app.state.settings.graph_api
        )
    except service.TemplateError as exc:
        if exc.status == 404:  # not a form error: the app's error page
            raise
        return await _page(
            request, scope, draft=draft, errors=exc.errors, status_code=exc.status, editing=True
        )
    return RedirectResponse("/templates?done=edited", status_code=303)


@router.post("/delete", response_class=HTMLResponse)
async def delete(
    request: Request,
    name: str = Form(..., max_length=512),
    scope: AgentScope = Depends(web_manager),
) -> Response:
    config = await _config(request, scope)
    conn = scope.db
    try:
        await service.delete(
            conn, config=config, name=name, graph=request.app.state.settings.graph_api
        )
    except service.TemplateError as exc:
        return await _page(request, scope, errors={"list": str(exc)}, status_code=exc.status)
    return RedirectResponse("/templates?done=deleted", status_code=303)


@router.post("/refresh", response_class=HTMLResponse)
async def refresh(request: Request, scope: AgentScope = Depends(web_workspace)) -> Response:
    """Fetch every template from WhatsApp again (the webhooks keep it current otherwise)."""
    config = await _config(request, scope)
    conn = scope.db
    try:
        await cache.refresh(conn, config=config, graph=request.app.state.settings.graph_api)
    except send_errors.SendError as exc:
        return await _page(
            request,
            scope,
            errors={
                "list": Text("WhatsApp did not list the templates: {why}", why=exc.explanation)
            },
            status_code=502,
        )
    return RedirectResponse("/templates?done=refreshed", status_code=303)
