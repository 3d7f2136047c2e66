"""The Team page of a workspace: members (owner and administrators manage them), auto-assignment,
your availability, labels and canned responses."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from wacrm.accounts.deps import AgentScope
from wacrm.canned import service as canned
from wacrm.conversations import labels as label_service
from wacrm.i18n.text import Text
from wacrm.members import service as members
from wacrm.web.deps import web_manager, web_workspace
from wacrm.web.templating import render

router = APIRouter(include_in_schema=False)
ItemId = Path(..., ge=1, le=2**63 - 1)
DONE = {
    "member-added": Text("Member added."),
    "member-removed": Text("Member removed; their conversations are unassigned."),
    "auto": Text("Auto-assignment saved."),
    "available": Text("Your availability is saved."),
    "label": Text("Labels saved."),
    "canned": Text("Canned responses saved."),
}


async def _page(
    request: Request, scope: AgentScope, *, status_code: int = 200, **extra: Any
) -> Response:
    conn = scope.db
    cur = await conn.execute(
        "SELECT coalesce(available, true) AS a FROM users WHERE id = %s", (scope.user.id,)
    )
    me = await cur.fetchone()
    context: dict[str, Any] = {
        "team": await members.list_members(conn, agent_id=scope.agent_id),
        "labels": await label_service.list_labels(conn, agent_id=scope.agent_id),
        "canned": await canned.list_canned(conn, agent_id=scope.agent_id),
        "variables": canned.VARIABLES,
        "available": bool(me and me["a"]),
        "auto_assign": bool(scope.agent.get("auto_assign")),
        "errors": {},
        "form": {},
        "message": DONE.get(request.query_params.get("done", "")),
    }
    context.update(extra)
    return await render(
        request,
        "team.html",
        user=scope.user,
        scope=scope,
        nav="team",
        status_code=status_code,
        **context,
    )


def _done(what: str, anchor: str) -> Response:
    return RedirectResponse(f"/team?done={what}#{anchor}", status_code=303)


@router.get("/team", response_class=HTMLResponse)
async def team_page(request: Request, scope: AgentScope = Depends(web_workspace)) -> Response:
    return await _page(request, scope)


@router.post("/team/members")
async def add_member(
    request: Request,
    scope: AgentScope = Depends(web_manager),
    email: str = Form("", max_length=320),
) -> Response:
    try:
        await members.add_member(
            scope.db, agent_id=scope.agent_id, email=email, added_by=scope.user.id
        )
    except members.MemberError as exc:
        return await _page(
            request,
            scope,
            status_code=exc.status,
            errors={"email": str(exc)},
            form={"email": email},
        )
    return _done("member-added", "members")


@router.post("/team/members/{user_id}/remove")
async def remove_member(user_id: UUID, scope: AgentScope = Depends(web_manager)) -> Response:
    await members.remove_member(scope.db, agent_id=scope.agent_id, user_id=user_id)
    return _done("member-removed", "members")


@router.post("/team/auto-assign")
async def auto_assign(
    scope: AgentScope = Depends(web_manager), enabled: str = Form("")
) -> Response:
    await members.set_auto_assign(scope.db, agent_id=scope.agent_id, enabled=enabled == "on")
    return _done("auto", "members")


@router.post("/team/availability")
async def availability(
    scope: AgentScope = Depends(web_workspace), available: str = Form("")
) -> Response:
    await scope.db.execute(
        "UPDATE users SET available = %s, updated_at = now() WHERE id = %s",
        (available == "on", scope.user.id),
    )
    return _done("available", "members")


@router.post("/team/labels")
async def add_label(
    request: Request,
    scope: AgentScope = Depends(web_manager),
    name: str = Form("", max_length=60),
    color: str = Form("#1f93ff", max_length=20),
) -> Response:
    try:
        await label_service.create_label(scope.db, agent_id=scope.agent_id, name=name, color=color)
    except label_service.LabelError as exc:
        return await _page(
            request,
            scope,
            status_code=exc.status,
            errors={"label_" + exc.field: str(exc)},
            form={"label_name": name, "label_color": color},
        )
    return _done("label", "labels")


@router.post("/team/labels/{label_id}/delete")
async def delete_label(
    label_id: int = ItemId, scope: AgentScope = Depends(web_manager)
) -> Response:
    await label_service.delete_label(scope.db, agent_id=scope.agent_id, label_id=label_id)
    return _done("label", "labels")


@router.post("/team/canned")
async def add_canned(
    request: Request,
    scope: AgentScope = Depends(web_workspace),
    shortcut: str = Form("", max_length=60),
    body: str = Form("", max_length=20000),
) -> Response:
    try:
        await canned.create_canned(
            scope.db,
            agent_id=scope.agent_id,
            shortcut=shortcut,
            body=body,
            created_by=scope.user.id,
        )
    except canned.CannedError as exc:
        field = "canned_shortcut" if exc.field == "shortcut" else "canned_body"
        return await _page(
            request,
            scope,
            status_code=exc.status,
            errors={field: str(exc)},
            form={"canned_shortcut": shortcut, "canned_body": body},
        )
    return _done("canned", "canned")


@router.post("/team/canned/{canned_id}/delete")
async def delete_canned(
    canned_id: int = ItemId, scope: AgentScope = Depends(web_workspace)
) -> Response:
    await canned.delete_canned(scope.db, agent_id=scope.agent_id, canned_id=canned_id)
    return _done("canned", "canned")
