"""Is a long-lived request's credential still good? (Live streams re-check theirs.)"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from psycopg import AsyncConnection

from wacrm.accounts import sessions, tokens
from wacrm.accounts.deps import AgentScope, CurrentUser, resolve_scope


async def user_of_request(conn: AsyncConnection[Any], request: Request) -> CurrentUser | None:
    """The request's user by its API token or session cookie as they stand now, else None."""
    auth = request.headers.get("authorization")
    if auth:
        row = await tokens.user_for_token(conn, auth.partition(" ")[2].strip())
        if row is None:
            return None
        return CurrentUser(id=row["id"], email=row["email"], name=row["name"], role=row["role"])
    srow = await sessions.resolve_session(conn, request.cookies.get(sessions.SESSION_COOKIE, ""))
    if srow is None:
        return None
    return CurrentUser(
        id=srow["id"],
        email=srow["email"],
        name=srow["name"],
        role=srow["role"],
        auth="session",
        session_id=srow["session_id"],
        csrf_token=srow["csrf_token"],
    )


async def still_allowed(request: Request, scope: AgentScope) -> bool:
    """The request's session or token is still valid (not signed out, revoked, expired; the user
    active) and still opens the scope's workspace."""
    async with request.app.state.pool.connection() as conn:
        user = await user_of_request(conn, request)
        if user is None or user.id != scope.user.id:
            return False
        try:
            return await resolve_scope(conn, user, scope.agent_id) is not None
        except HTTPException:
            return False
