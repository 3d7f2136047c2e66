"""The chat's team parts: the conversation bar (status, snooze, assignee, labels), private
notes in the timeline, the timeline's system lines, and the composer's canned responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from psycopg import AsyncConnection

from wacrm import i18n
from wacrm.accounts.deps import AgentScope
from wacrm.canned import service as canned
from wacrm.conversations import labels as label_service
from wacrm.conversations import names
from wacrm.conversations import state as conv_state
from wacrm.i18n.text import Text
from wacrm.members import service as members
from wacrm.notes import service as notes
from wacrm.web.deps import web_workspace
from wacrm.web.templating import env, render

router = APIRouter(include_in_schema=False)
env.globals.update(status_name=names.status_name, role_name=names.role_name)
CustomerId = Path(..., ge=1, le=2**31 - 1)
NoteId = Path(..., ge=1, le=2**63 - 1)
Conn = AsyncConnection[Any]


async def timeline(
    conn: Conn,
    scope: AgentScope,
    customer_id: int,
    items: list[dict[str, Any]],
    *,
    since: datetime | None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Messages (oldest first) with the notes and events of the same stretch of time, in order."""
    found_events = await conv_state.events(
        conn, tables=scope.tables, customer_id=customer_id, since=since, until=until
    )
    found_notes = await notes.list_notes(
        conn, tables=scope.tables, customer_id=customer_id, since=since, until=until
    )
    rows: list[tuple[Any, int, dict[str, Any]]] = [(m["timestamp"], 0, m) for m in items]
    rows += [
        (e["created_at"], 1, {**e, "row_kind": "event", "timestamp": e["created_at"]})
        for e in found_events
    ]
    rows += [
        (n["created_at"], 1, {**n, "row_kind": "note", "timestamp": n["created_at"]})
        for n in found_notes
    ]
    rows.sort(key=lambda r: (r[0] is None, r[0] or datetime.min, r[1]))
    return [r[2] for r in rows]


async def bar_context(
    conn: Conn, scope: AgentScope, customer_id: int, **extra: Any
) -> dict[str, Any]:
    """What the conversation bar shows: its state, the members and the workspace's labels."""
    current = await conv_state.state(conn, tables=scope.tables, customer_id=customer_id)
    context = {
        "state": current,
        "team": await members.list_members(conn, agent_id=scope.agent_id),
        "all_labels": await label_service.list_labels(conn, agent_id=scope.agent_id),
        "bar_error": None,
        "bar_error_field": None,
        "snooze_value": _local_input(current["snoozed_until"]),
    }
    context.update(extra)
    return context


def _local_input(value: datetime | None) -> str:
    """A datetime-local input's value in the viewer's time zone."""
    return value.astimezone(i18n.viewer().tz).strftime("%Y-%m-%dT%H:%M") if value else ""


def _parse_local(text: str) -> datetime | None:
    """A datetime-local value typed in the viewer's zone, as an aware datetime."""
    if not text.strip():
        return None
    try:
        naive = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise conv_state.StateError(
            Text("snooze until: give a date and a time"), field="snoozed_until"
        ) from exc
    return naive.replace(tzinfo=i18n.viewer().tz) if naive.tzinfo is None else naive


@router.get("/chat/{customer_id}/bar", response_class=HTMLResponse)
async def bar(
    request: Request, customer_id: int = CustomerId, scope: AgentScope = Depends(web_workspace)
) -> Response:
    context = await bar_context(scope.db, scope, customer_id)
    return await render(
        request, "partials/conv_bar.html", scope=scope, customer_id=customer_id, **context
    )


@router.post("/chat/{customer_id}/state", response_class=HTMLResponse)
async def change_state(
    request: Request,
    customer_id: int = CustomerId,
    scope: AgentScope = Depends(web_workspace),
    status: str = Form("", max_length=20),
    snoozed_until: str = Form("", max_length=40),
    assignee_id: str = Form("-", max_length=40),
    labels: list[str] = Form([]),
    labels_shown: str = Form(""),
) -> Response:
    """The bar's form: any of status (snooze), assignee ("" nobody, "-" unchanged), labels."""
    changes: dict[str, Any] = {}
    error, field, code = None, None, 200
    try:
        if status:
            changes["status"] = status
            if status == "snoozed":
                changes["snoozed_until"] = _parse_local(snoozed_until)
        if assignee_id != "-":
            changes["assignee_id"] = members_id(assignee_id)
        if labels_shown:
            changes["labels"] = labels
        await conv_state.update(
            scope.db,
            tables=scope.tables,
            agent_id=scope.agent_id,
            customer_id=customer_id,
            actor_id=scope.user.id,
            **changes,
        )
    except conv_state.StateError as exc:
        error, field, code = str(exc), exc.field, exc.status
    context = await bar_context(
        scope.db, scope, customer_id, bar_error=error, bar_error_field=field
    )
    headers = {"HX-Trigger": "live-chat"} if error is None else None
    return await render(
        request,
        "partials/conv_bar.html",
        scope=scope,
        status_code=code,
        headers=headers,
        customer_id=customer_id,
        **context,
    )


def members_id(value: str) -> Any:
    """The assignee field: "" is nobody, else a user id (a bad one is the field's error)."""
    from uuid import UUID

    if not value:
        return None
    try:
        return UUID(value)
    except ValueError as exc:
        raise conv_state.StateError(
            Text("choose a member of this workspace"), field="assignee_id"
        ) from exc


@router.post("/chat/{customer_id}/notes", response_class=HTMLResponse)
async def add_note(
    request: Request,
    customer_id: int = CustomerId,
    scope: AgentScope = Depends(web_workspace),
    body: str = Form("", max_length=20000),
) -> Response:
    """A private note from the chat; answers with a fresh note form (the thread refreshes live)."""
    error, code = None, 200
    try:
        await notes.add_note(
            scope.db,
            tables=scope.tables,
            agent_id=scope.agent_id,
            customer_id=customer_id,
            author_id=scope.user.id,
            body=body,
        )
    except notes.NoteError as exc:
        error, code = str(exc), exc.status
    headers = {"HX-Trigger": "live-chat"} if error is None else None
    return await render(
        request,
        "partials/note_form.html",
        scope=scope,
        status_code=code,
        headers=headers,
        customer_id=customer_id,
        note_error=error,
        note_text=body if error else "",
    )


@router.post("/chat/{customer_id}/notes/{note_id}/delete")
async def delete_note(
    customer_id: int = CustomerId, note_id: int = NoteId, scope: AgentScope = Depends(web_workspace)
) -> Response:
    await notes.delete_note(
        scope.db,
        tables=scope.tables,
        agent_id=scope.agent_id,
        customer_id=customer_id,
        note_id=note_id,
        user_id=scope.user.id,
    )
    return Response(status_code=204, headers={"HX-Trigger": "live-chat"})


@router.post("/chat/{customer_id}/notes/{note_id}/edit")
async def edit_note(
    customer_id: int = CustomerId,
    note_id: int = NoteId,
    scope: AgentScope = Depends(web_workspace),
    body: str = Form("", max_length=20000),
) -> Response:
    await notes.edit_note(
        scope.db,
        tables=scope.tables,
        agent_id=scope.agent_id,
        customer_id=customer_id,
        note_id=note_id,
        user_id=scope.user.id,
        body=body,
    )
    return Response(status_code=204, headers={"HX-Trigger": "live-chat"})


@router.get("/chat/{customer_id}/canned")
async def canned_for_chat(
    customer_id: int = CustomerId,
    scope: AgentScope = Depends(web_workspace),
    q: str = Query("", max_length=100),
) -> JSONResponse:
    """The composer's '/' list: canned responses matching q, filled in for this conversation."""
    values = await canned.variables(
        scope.db, tables=scope.tables, customer_id=customer_id, agent_name=scope.user.name
    )
    found = await canned.list_canned(scope.db, agent_id=scope.agent_id, q=q or None)
    return JSONResponse(
        [
            {"id": c["id"], "shortcut": c["shortcut"], "text": canned.fill(c["body"], values)}
            for c in found[:20]
        ]
    )
