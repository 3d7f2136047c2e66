"""The inbox page: conversations by last activity, search, filters (status with counts,
assignee, label, mentions), live updates over SSE."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from wacrm.accounts.deps import AgentScope
from wacrm.conversations import filters
from wacrm.conversations import labels as label_service
from wacrm.conversations import service as conversations
from wacrm.members import service as members
from wacrm.web.deps import web_workspace
from wacrm.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE = 50


def live_url(scope: AgentScope) -> str:
    """The SSE stream of the workspace's events (the JSON API's, with the session cookie)."""
    return f"/api/v1/events?agent_id={scope.agent_id}"


@dataclass
class InboxQuery:
    """The inbox's query string, as the filter form sends it."""

    q: str = ""
    unread: bool = False
    open_order: bool = False
    status: str = "open"
    assignee: str = ""
    label: str = ""
    mentions: bool = False


def inbox_query(
    q: str = Query("", max_length=100),
    unread: bool = False,
    open_order: bool = False,
    status: str = Query("open", max_length=20),
    assignee: str = Query("", max_length=40),
    label: str = Query("", max_length=40),
    mentions: bool = False,
) -> InboxQuery:
    return InboxQuery(q, unread, open_order, status or "open", assignee, label, mentions)


async def _team(
    scope: AgentScope, f: InboxQuery, labels: list[dict[str, Any]] | None = None
) -> filters.TeamFilter:
    return await filters.team_filter_of(
        scope.db,
        tables=scope.tables,
        me=scope.user.id,
        status=f.status,
        assignee=f.assignee,
        label=f.label or None,
        mentions=f.mentions,
        known_labels=labels,
    )


async def _page(
    scope: AgentScope,
    f: InboxQuery,
    cursor: str | None,
    labels: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    team = await _team(scope, f, labels)
    page = await conversations.inbox(
        scope.db,
        tables=scope.tables,
        limit=PAGE,
        cursor=cursor,
        unread=f.unread,
        has_open_order=f.open_order,
        q=f.q or None,
        team=team,
    )
    if cursor is None:
        page["counts"] = await filters.status_counts(scope.db, tables=scope.tables, team=team)
    return page


async def _choices(scope: AgentScope) -> dict[str, Any]:
    return {
        "team": await members.list_members(scope.db, agent_id=scope.agent_id),
        "all_labels": await label_service.list_labels(scope.db, agent_id=scope.agent_id),
    }


@router.get("/inbox", response_class=HTMLResponse)
async def inbox_page(
    request: Request,
    scope: AgentScope = Depends(web_workspace),
    f: InboxQuery = Depends(inbox_query),
) -> Response:
    choices = await _choices(scope)
    page = await _page(scope, f, None, choices["all_labels"])
    return await render(
        request,
        "inbox.html",
        user=scope.user,
        scope=scope,
        nav="inbox",
        live_url=live_url(scope),
        page=page,
        f=f,
        q=f.q,
        unread=f.unread,
        open_order=f.open_order,
        **choices,
    )


@router.get("/inbox/list", response_class=HTMLResponse)
async def inbox_list(
    request: Request,
    scope: AgentScope = Depends(web_workspace),
    f: InboxQuery = Depends(inbox_query),
    cursor: str | None = Query(None, max_length=200),
) -> Response:
    """The list (first page, or the page after `cursor`) as a fragment for htmx."""
    page = await _page(scope, f, cursor)
    template = "partials/inbox_more.html" if cursor else "partials/inbox_list.html"
    return await render(
        request, template, page=page, f=f, q=f.q, unread=f.unread, open_order=f.open_order
    )
