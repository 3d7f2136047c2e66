"""Who is signed in and which agent's workspace a page shows (the web side of accounts.deps)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from wacrm.accounts import deps as account_deps
from wacrm.accounts.deps import AgentScope, CurrentUser
from wacrm.agents.tables import AgentTables

WORKSPACE_COOKIE = "wacrm_workspace"  # the agent an admin chose to work as (admins only)
LABEL = "coalesce(u.name, 'Agent ' || a.id) || ' (' || a.agent_prefix || ')'"
AGENT_SQL = f"SELECT a.*, {LABEL} AS label FROM agents a LEFT JOIN users u ON u.id = a.user_id"


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
    return user


def _here(request: Request) -> str:
    if request.method != "GET" or request.headers.get("hx-request"):
        return ""
    query = request.url.query
    return request.url.path + ("?" + query if query else "")


async def list_agents(request: Request) -> list[dict[str, Any]]:
    async with request.app.state.pool.connection() as conn:
        cur = await conn.execute(
            f"SELECT a.id, a.is_active, {LABEL} AS name FROM agents a"
            " LEFT JOIN users u ON u.id = a.user_id ORDER BY a.is_active DESC, name, a.id"
        )
        return list(await cur.fetchall())


async def resolve_workspace(request: Request, user: CurrentUser) -> AgentScope | None:
    """The agent this user works as: an agent its own; an admin the one chosen (or the first)."""
    async with request.app.state.pool.connection() as conn:
        if user.is_admin:
            chosen = request.cookies.get(WORKSPACE_COOKIE, "")
            agent = None
            if chosen.isdigit():
                cur = await conn.execute(AGENT_SQL + " WHERE a.id = %s", (int(chosen),))
                agent = await cur.fetchone()
            if agent is None:
                cur = await conn.execute(AGENT_SQL + " ORDER BY a.is_active DESC, a.id LIMIT 1")
                agent = await cur.fetchone()
        else:
            cur = await conn.execute(
                AGENT_SQL + " WHERE a.user_id = %s AND a.is_active", (user.id,)
            )
            agent = await cur.fetchone()
    if agent is None:
        return None
    return AgentScope(
        user=user,
        agent_id=agent["id"],
        agent=dict(agent),
        tables=AgentTables(agent["id"], agent["agent_prefix"]),
    )


async def web_scope(request: Request, user: CurrentUser = Depends(web_user)) -> AgentScope:
    """The workspace of an agent-scoped page; a page without one explains how to get one."""
    scope = await resolve_workspace(request, user)
    if scope is None:
        detail = (
            "there are no agents yet: create one under Admin"
            if user.is_admin
            else "your user is not linked to an active agent; ask an administrator to link it"
        )
        raise HTTPException(403, detail=detail)
    request.state.web_scope = scope
    return scope
