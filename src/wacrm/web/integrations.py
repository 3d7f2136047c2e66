"""Admin pages for outgoing webhooks: endpoints per workspace, their delivery log, replay."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from wacrm.accounts.deps import CurrentUser, db_conn, request_connection
from wacrm.hooks import service as hooks
from wacrm.i18n.text import Text
from wacrm.web.admin import web_admin
from wacrm.web.deps import list_agents
from wacrm.web.templating import render

# Every page holds the request's connection (db_conn, first: the user is resolved on it too);
# helpers read with request_connection.
router = APIRouter(
    prefix="/admin/integrations", include_in_schema=False, dependencies=[Depends(db_conn)]
)
EndpointId = Path(..., ge=1, le=2**63 - 1)
DONE = {
    "saved": Text("Endpoint saved."),
    "deleted": Text("Endpoint deleted."),
    "replayed": Text("The event is queued for delivery again."),
}


async def _page(
    request: Request,
    user: CurrentUser,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    **extra: Any,
) -> Response:
    async with request_connection(request) as conn:
        endpoints = await hooks.list_endpoints(conn)
    return await render(
        request,
        "admin_integrations.html",
        user=user,
        nav="admin",
        status_code=status_code,
        section="integrations",
        error=None,
        message=DONE.get(extra.pop("done", "")),
        endpoints=endpoints,
        workspaces=await list_agents(request),
        events=hooks.EVENTS,
        errors=errors or {},
        form=form or {"events": list(hooks.EVENTS)},
        **extra,
    )


@router.get("", response_class=HTMLResponse)
async def integrations_page(
    request: Request, done: str = Query("", max_length=20), user: CurrentUser = Depends(web_admin)
) -> Response:
    return await _page(request, user, done=done)


@router.post("", response_class=HTMLResponse)
async def create_endpoint(
    request: Request,
    user: CurrentUser = Depends(web_admin),
    agent_id: str = Form("", max_length=20),
    url: str = Form("", max_length=2000),
    description: str = Form("", max_length=200),
    events: list[str] = Form([]),
) -> Response:
    """A new endpoint; its signing secret is shown once, on the answer to this form."""
    form = {"agent_id": agent_id, "url": url, "description": description, "events": events}
    if not agent_id.isdigit():
        return await _page(
            request, user, status_code=422, errors={"agent_id": "choose a workspace"}, form=form
        )
    async with request_connection(request) as conn:
        try:
            created = await hooks.create_endpoint(
                conn,
                agent_id=int(agent_id),
                url=url,
                events=events,
                description=description,
                created_by=user.id,
                private_ok=request.app.state.settings.private_addresses_allowed,
            )
        except hooks.HookError as exc:
            errors = {exc.field or "form": str(exc)}
            return await _page(request, user, status_code=exc.status, errors=errors, form=form)
    return await _page(request, user, status_code=201, created=created)


@router.post("/{endpoint_id}")
async def update_endpoint(
    request: Request,
    endpoint_id: int = EndpointId,
    user: CurrentUser = Depends(web_admin),
    url: str = Form("", max_length=2000),
    events: list[str] = Form([]),
    enabled: bool = Form(False),
) -> Response:
    async with request_connection(request) as conn:
        try:
            await hooks.update_endpoint(
                conn,
                endpoint_id=endpoint_id,
                url=url,
                events=events,
                enabled=enabled,
                private_ok=request.app.state.settings.private_addresses_allowed,
            )
        except hooks.HookError as exc:
            errors = {f"{endpoint_id}.{exc.field or 'form'}": str(exc)}
            return await _page(request, user, status_code=exc.status, errors=errors)
    return RedirectResponse("/admin/integrations?done=saved", status_code=303)


@router.post("/{endpoint_id}/delete")
async def delete_endpoint(
    request: Request, endpoint_id: int = EndpointId, user: CurrentUser = Depends(web_admin)
) -> Response:
    async with request_connection(request) as conn:
        await hooks.delete_endpoint(conn, endpoint_id=endpoint_id)
    return RedirectResponse("/admin/integrations?done=deleted", status_code=303)


@router.get("/{endpoint_id}", response_class=HTMLResponse)
async def delivery_log(
    request: Request,
    endpoint_id: int = EndpointId,
    done: str = Query("", max_length=20),
    user: CurrentUser = Depends(web_admin),
) -> Response:
    """The newest deliveries of one endpoint: state, attempts, answer, error; replay buttons."""
    async with request_connection(request) as conn:
        endpoint = await hooks.get_endpoint(conn, endpoint_id)
        if endpoint is None:
            raise HTTPException(404, detail=str(Text("no endpoint {id}", id=endpoint_id)))
        rows = await hooks.deliveries(conn, endpoint_id=endpoint_id, limit=100)
    return await render(
        request,
        "admin_integration_log.html",
        user=user,
        nav="admin",
        section="integrations",
        error=None,
        message=DONE.get(done),
        endpoint=hooks.public(endpoint),
        deliveries=rows,
    )


@router.post("/deliveries/{delivery_id}/replay")
async def replay(
    request: Request,
    delivery_id: int = Path(..., ge=1, le=2**63 - 1),
    user: CurrentUser = Depends(web_admin),
) -> Response:
    async with request_connection(request) as conn:
        row = await hooks.replay(conn, delivery_id=delivery_id)
    return RedirectResponse(
        f"/admin/integrations/{row['endpoint_id']}?done=replayed", status_code=303
    )
