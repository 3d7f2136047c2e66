"""The contacts import pages: upload and check a CSV, preview with row-level errors, live progress."""

from __future__ import annotations

from typing import Any

from babel import Locale
from fastapi import APIRouter, Depends, File, Form, HTTPException, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from wacrm import i18n
from wacrm.accounts.deps import AgentScope
from wacrm.contacts import imports
from wacrm.contacts import service as contacts
from wacrm.contacts.csvfile import COLUMNS
from wacrm.i18n.text import Text
from wacrm.web.deps import web_workspace
from wacrm.web.templating import fragment, render

router = APIRouter(prefix="/customers/import", include_in_schema=False)
panel_router = APIRouter(include_in_schema=False)
ImportId = Path(..., ge=1, le=2**63 - 1)


def countries() -> list[tuple[str, str]]:
    """(ISO code, name in the viewer's language) of every region phonenumbers knows."""
    import phonenumbers

    names = Locale.parse(i18n.viewer().language).territories
    return sorted(
        ((code, names.get(code, code)) for code in phonenumbers.SUPPORTED_REGIONS if code != "001"),
        key=lambda x: x[1],
    )


async def _form_page(
    request: Request,
    scope: AgentScope,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    conn = scope.db
    default = await contacts.default_country(conn, agent_id=scope.agent_id)
    listed = await imports.recent(conn, agent_id=scope.agent_id)
    return await render(
        request,
        "contacts_import.html",
        user=scope.user,
        scope=scope,
        nav="contacts",
        status_code=status_code,
        errors=errors or {},
        countries=countries(),
        default_country=default,
        imports=listed,
        columns=COLUMNS,
    )


@router.get("", response_class=HTMLResponse)
async def import_page(request: Request, scope: AgentScope = Depends(web_workspace)) -> Response:
    return await _form_page(request, scope)


@router.post("", response_class=HTMLResponse)
async def upload(
    request: Request,
    scope: AgentScope = Depends(web_workspace),
    file: UploadFile = File(None),
    country: str = Form("", max_length=2),
    remember_country: bool = Form(False),
) -> Response:
    """Check the file and keep it with its preview; nothing is written to the customers yet."""
    region = country.strip().upper() or None
    if region is not None and region not in {c for c, _ in countries()}:
        return await _form_page(
            request, scope, status_code=422, errors={"country": "choose a country from the list"}
        )
    data = await file.read() if file is not None else b""
    conn = scope.db
    try:
        row = await imports.check_upload(
            conn,
            agent_id=scope.agent_id,
            filename=(file.filename if file is not None else "") or "contacts.csv",
            data=data,
            country=region,
            created_by=scope.user.id,
        )
    except imports.ImportError_ as exc:
        return await _form_page(
            request, scope, status_code=exc.status, errors={exc.field or "file": str(exc)}
        )
    if remember_country and region:
        await contacts.set_default_country(conn, agent_id=scope.agent_id, country=region)
    return RedirectResponse(f"/customers/import/{row['id']}", status_code=303)


async def _import(request: Request, scope: AgentScope, import_id: int) -> dict[str, Any]:
    conn = scope.db
    row = await imports.get_import(conn, agent_id=scope.agent_id, import_id=import_id)
    if row is None:
        raise HTTPException(404, detail=str(Text("no import {id} in this workspace", id=import_id)))
    return row


@router.get("/{import_id}", response_class=HTMLResponse)
async def import_detail(
    request: Request, import_id: int = ImportId, scope: AgentScope = Depends(web_workspace)
) -> Response:
    row = await _import(request, scope, import_id)
    return await render(
        request,
        "contacts_import_detail.html",
        user=scope.user,
        scope=scope,
        nav="contacts",
        imp=row,
        errors={},
    )


@router.get("/{import_id}/progress", response_class=HTMLResponse)
async def import_progress(
    request: Request, import_id: int = ImportId, scope: AgentScope = Depends(web_workspace)
) -> Response:
    """The progress block (polled by the page while the import runs)."""
    row = await _import(request, scope, import_id)
    return HTMLResponse(fragment("partials/import_progress.html", imp=row))


@router.post("/{import_id}/start", response_class=HTMLResponse)
async def start_import(
    request: Request,
    import_id: int = ImportId,
    scope: AgentScope = Depends(web_workspace),
    skip_invalid: bool = Form(False),
) -> Response:
    conn = scope.db
    try:
        await imports.start(
            conn, agent_id=scope.agent_id, import_id=import_id, skip_invalid=skip_invalid
        )
    except imports.ImportError_ as exc:
        if exc.status == 404:  # not a form error: the app's error page
            raise
        row = await imports.get_import(conn, agent_id=scope.agent_id, import_id=import_id)
        return await render(
            request,
            "contacts_import_detail.html",
            user=scope.user,
            scope=scope,
            nav="contacts",
            imp=row,
            errors={exc.field or "form": str(exc)},
            status_code=exc.status,
        )
    return RedirectResponse(f"/customers/import/{import_id}", status_code=303)


@panel_router.post("/customers/{customer_id}/opt-in", response_class=HTMLResponse)
async def set_opt_in(
    request: Request,
    customer_id: int = Path(..., ge=1, le=2**31 - 1),
    opted_in: str = Form("", pattern="^(|yes|no)$"),
    scope: AgentScope = Depends(web_workspace),
) -> Response:
    """The agent records the customer's broadcast consent; answers the refreshed customer panel."""
    from wacrm.web.chat_parts import panel_context

    value = {"yes": True, "no": False}.get(opted_in)
    conn = scope.db
    changed = await contacts.set_opt_in(
        conn, tables=scope.tables, customer_id=customer_id, opted_in=value, source="agent"
    )
    if changed is None:
        raise HTTPException(
            404, detail=str(Text("no customer {id} in this workspace", id=customer_id))
        )
    context = await panel_context(conn, scope, customer_id)
    return await render(request, "partials/panel.html", user=scope.user, scope=scope, **context)
