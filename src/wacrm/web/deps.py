"""Who is signed in and which agent's workspace a page shows (the web side of accounts.deps)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from psycopg import AsyncConnection

from wacrm.accounts import deps as account_deps
from wacrm.accounts.deps import AgentScope, CurrentUser
from wacrm.i18n import gettext as _
from wacrm.members import service as members
from wacrm.web.viewer import resolve as resolve_viewer

WORKSPACE_COOKIE = "wacrm_workspace"  # the workspace chosen in the switch


class LoginRequired(Exception):
    """Raised by page dependencies when nobody is signed in; answered with a redirect."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


async def login_redirect(request: Request, exc: LoginRequired) -> Response:
    target = "/login"
    if exc.next_url and exc.next_url != "/":
        target += "?next=" + quote(exc.next_url, safe="")
    if request.headers.get("hx-request"):  # htmx follows this header with a full page load
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def web_user(request: Request) -> CurrentUser:
    """The signed-in user (session cookie), else a redirect to /login; forms must carry the CSRF token."""
    if not request.cookies.get("wacrm_session"):
        raise LoginRequired(_here(request))
    try:
        user = await account_deps.current_user(request)
    except HTTPException as exc:
        if exc.status_code == 401:
            raise LoginRequired(_here(request)) from exc
        raise
    if user.auth != "session":
        raise LoginRequired(_here(request))
    await resolve_viewer(request)  # errors made before the page renders speak the user's language
    return user


def _here(request: Request) -> str:
    if request.method != "GET" or request.headers.get("hx-request"):
        return ""
    query = request.url.query
    return request.url.path + ("?" + query if query else "")


MENU_AGENTS = 100


async def list_agents(request: Request, user: CurrentUser | None = None) -> list[dict[str, Any]]:
    """The workspaces the switch offers: every agent to administrators (and without a user),
    the ones a user works in otherwise."""
    scope = getattr(request.state, "web_scope", None)
    async with account_deps.request_connection(request) as conn:
        if user is None or user.is_admin:
            # at most MENU_AGENTS (and the current one), not every agent on every page; the
            # admin agents page lists every agent to work in
            query = (
                f"SELECT a.id, a.is_active, {members.LABEL} AS name FROM agents a"
                " LEFT JOIN users u ON u.id = a.user_id"
            )
            cur = await conn.execute(
                query + " ORDER BY a.is_active DESC, name, a.id LIMIT %s", (MENU_AGENTS + 1,)
            )
            rows = list(await cur.fetchall())
            request.state.more_agents = len(rows) > MENU_AGENTS
            rows = rows[:MENU_AGENTS]
            if scope is not None and scope.agent_id not in {r["id"] for r in rows}:
                cur = await conn.execute(query + " WHERE a.id = %s", (scope.agent_id,))
                rows += list(await cur.fetchall())
            return rows
        # the page's workspace was resolved from this same list (resolve_workspace): not read twice
        found = getattr(request.state, "user_workspaces", None)
        if found is None:
            found = await members.workspaces(conn, user_id=user.id)
    return [{"id": w["id"], "is_active": True, "name": w["label"]} for w in found]


async def resolve_workspace(
    conn: AsyncConnection[Any], request: Request, user: CurrentUser
) -> AgentScope | None:
    """The workspace a page shows: the one chosen in the switch (a cookie) if the user may open
    it, else the user's own or first membership; an administrator without one the first agent."""
    chosen = request.cookies.get(WORKSPACE_COOKIE, "")
    if chosen.isdigit() and int(chosen) < 2**63:
        try:
            scope = await account_deps.resolve_scope(conn, user, int(chosen))
        except HTTPException:
            scope = None
        if scope is not None:
            return scope
    found = await members.workspaces(conn, user_id=user.id)
    request.state.user_workspaces = found
    if found:
        role = "admin" if user.is_admin else found[0]["role"]
        return account_deps.resolve_scope_of(user, found[0], role, conn)
    if user.is_admin:
        agent = await members.first_agent(conn)
        if agent is not None:
            return account_deps.resolve_scope_of(user, agent, "admin", conn)
    return None


async def _workspace(request: Request, user: CurrentUser, conn: AsyncConnection[Any]) -> AgentScope:
    scope = await resolve_workspace(conn, request, user)
    if scope is None:
        detail = (
            "there are no agents yet: create one under Admin"
            if user.is_admin
            else "your user is not linked to an active agent nor a member of one; ask an administrator to add you"
        )
        raise HTTPException(403, detail=detail)
    return scope


async def web_workspace(
    request: Request,
    conn: AsyncConnection[Any] = Depends(account_deps.db_conn),
    user: CurrentUser = Depends(web_user),
) -> AgentScope:
    """The user, the workspace (a page without one explains how to get one) and the request's
    connection (`scope.db`) of an agent-scoped page in one dependency, as `agent_scope` in the
    API. The connection is taken first, so the user is resolved on it too: one pooled
    connection per request (the layout's reads share it through `request_connection`)."""
    scope = await _workspace(request, user, conn)
    request.state.web_scope = scope
    return scope


async def web_manager(scope: AgentScope = Depends(web_workspace)) -> AgentScope:
    """web_workspace for pages that change the workspace itself (settings, members, labels,
    message templates): administrators and the owner; members are refused 403."""
    if not scope.can_manage:
        raise HTTPException(
            403, detail=_("only an administrator or the workspace's owner changes this")
        )
    return scope


async def web_scope(request: Request, user: CurrentUser = Depends(web_user)) -> AgentScope:
    """web_workspace resolved on a short connection given back at once (`scope.conn` is None):
    only for a page that reads elsewhere (the dashboard reads a replica), so that it holds no
    connection of the primary meanwhile."""
    async with request.app.state.pool.connection() as conn:
        scope = replace(await _workspace(request, user, conn), conn=None)
    request.state.web_scope = scope
    return scope
