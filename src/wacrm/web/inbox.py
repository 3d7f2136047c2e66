"""The inbox page: conversations by last activity, search, filters, live updates over SSE."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from wacrm.accounts.deps import AgentScope
from wacrm.conversations import service as conversations
from wacrm.conversations.cursors import InvalidCursorError
from wacrm.web.deps import web_scope
from wacrm.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE = 50


def live_url(scope: AgentScope) -> str:
    """The SSE stream of the workspace's events (the JSON API's, with the session cookie)."""
    return f"/api/v1/events?agent_id={scope.agent_id}"


async def _page(
    request: Request,
    scope: AgentScope,
    *,
    q: str,
    unread: bool,
    open_order: bool,
    cursor: str | None,
) -> dict:
    async with request.app.state.pool.connection() as conn:
        try:
            return await conversations.inbox(
                conn,
                tables=scope.tables,
                limit=PAGE,
                cursor=cursor,
                unread=unread,
                has_open_order=open_order,
                q=q or None,
            )
        except InvalidCursorError as exc:
            raise HTTPException(400, detail=str(exc)) from exc


@router.get("/inbox", response_class=HTMLResponse)
async def inbox_page(
    request: Request,
    scope: AgentScope = Depends(web_scope),
    q: str = Query("", max_length=100),
    unread: bool = False,
    open_order: bool = False,
) -> Response:
    page = await _page(request, scope, q=q, unread=unread, open_order=open_order, cursor=None)
    return await render(
        request,
        "inbox.html",
        user=scope.user,
        scope=scope,
        nav="inbox",
        live_url=live_url(scope),
        page=page,
        q=q,
        unread=unread,
        open_order=open_order,
    )


@router.get("/inbox/list", response_class=HTMLResponse)
async def inbox_list(
    request: Request,
    scope: AgentScope = Depends(web_scope),
    q: str = Query("", max_length=100),
    unread: bool = False,
    open_order: bool = False,
    cursor: str | None = Query(None, max_length=200),
) -> Response:
    """The list (first page, or the page after `cursor`) as a fragment for htmx."""
    page = await _page(request, scope, q=q, unread=unread, open_order=open_order, cursor=cursor)
    template = "partials/inbox_more.html" if cursor else "partials/inbox_list.html"
    return await render(request, template, page=page, q=q, unread=unread, open_order=open_order)
