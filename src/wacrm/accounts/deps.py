"""Request dependencies: the database connection, the current user, admins only, the agent scope.

Every `/api/v1` route declares its access level through one of these dependencies (the
authorization-matrix test reads them from the route table): `public`, `current_user`,
`require_admin` or `agent_scope`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fastapi import Depends, HTTPException, Query, Request
from psycopg import AsyncConnection

from wacrm.accounts import sessions, tokens
from wacrm.agents.tables import AgentTables

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


async def db_conn(request: Request) -> AsyncIterator[AsyncConnection[Any]]:
    """One pooled connection (autocommit, dict rows) for the request."""
    async with request.app.state.pool.connection() as conn:
        yield conn


def public() -> None:
    """Marks a route as deliberately open to anonymous callers."""


@dataclass(frozen=True)
class CurrentUser:
    id: UUID
    email: str
    name: str
    role: str
    auth: str = "token"  # "token" (bearer) or "session" (cookie)
    session_id: int | None = None
    csrf_token: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class AgentScope:
    """The agent whose tables this request may touch, resolved once."""

    user: CurrentUser
    agent_id: int
    agent: dict[str, Any]
    tables: AgentTables


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def _check_csrf(request: Request, expected: str | None) -> None:
    given = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if not given and content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # Starlette caches it for the route's own Form fields
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not expected or not sessions.csrf_matches(expected, given):
        raise HTTPException(
            403,
            detail="missing or wrong CSRF token: send the page's csrf_token form field "
            f"or the {CSRF_HEADER} header",
        )


async def _resolve_user(request: Request) -> CurrentUser:
    if hasattr(request.state, "current_user"):
        return request.state.current_user
    auth = request.headers.get("authorization")
    cookie = request.cookies.get(sessions.SESSION_COOKIE)
    async with request.app.state.pool.connection() as conn:
        if auth:
            scheme, _, credentials = auth.partition(" ")
            if scheme.lower() != "bearer" or not credentials.strip():
                raise _unauthorized("the Authorization header must be 'Bearer <API token>'")
            row = await tokens.user_for_token(conn, credentials.strip())
            if row is None:
                raise _unauthorized(
                    "the API token is unknown, revoked or expired, or its user is deactivated"
                )
            user = CurrentUser(id=row["id"], email=row["email"], name=row["name"], role=row["role"])
        elif cookie:
            srow = await sessions.resolve_session(conn, cookie)
            if srow is None:
                raise _unauthorized(
                    "your session has expired or was signed out; please log in again"
                )
            user = CurrentUser(
                id=srow["id"],
                email=srow["email"],
                name=srow["name"],
                role=srow["role"],
                auth="session",
                session_id=srow["session_id"],
                csrf_token=srow["csrf_token"],
            )
        else:
            raise _unauthorized(
                "authentication required: send 'Authorization: Bearer <API token>' or log in"
            )
    if user.auth == "session" and request.method in UNSAFE_METHODS:
        await _check_csrf(request, user.csrf_token)
    request.state.current_user = user
    return user


async def current_user(request: Request) -> CurrentUser:
    """The authenticated user (bearer token or session cookie; cookie writes need the CSRF token)."""
    return await _resolve_user(request)


async def require_csrf(request: Request, user: CurrentUser = Depends(current_user)) -> CurrentUser:
    """Cookie-authenticated unsafe requests must carry the session's CSRF token (bearer is exempt)."""
    if user.auth == "session" and request.method in UNSAFE_METHODS:
        await _check_csrf(request, user.csrf_token)
    return user


async def require_admin(user: CurrentUser = Depends(current_user)) -> CurrentUser:
    if not user.is_admin:
        raise HTTPException(403, detail="this action is for administrators only")
    return user


async def agent_scope(
    request: Request,
    user: CurrentUser = Depends(current_user),
    agent_id: int | None = Query(
        None,
        description="The agent whose data to use. Admins must give it; agents may omit it or give their own.",
    ),
) -> AgentScope:
    """The agent this request works on: an agent's own, or the one an admin chose with agent_id."""
    async with request.app.state.pool.connection() as conn:
        if user.is_admin:
            if agent_id is None:
                raise HTTPException(
                    400,
                    detail="administrators must choose the agent with the agent_id query parameter",
                )
            cur = await conn.execute("SELECT * FROM agents WHERE id = %s", (agent_id,))
        else:
            cur = await conn.execute(
                "SELECT * FROM agents WHERE user_id = %s AND is_active", (user.id,)
            )
        agent = await cur.fetchone()
    if user.is_admin and agent is None:
        raise HTTPException(404, detail=f"no agent with id {agent_id}")
    if agent is None:
        raise HTTPException(
            403,
            detail="your user is not linked to an active agent; ask an administrator to link it",
        )
    if agent_id is not None and agent_id != agent["id"]:
        raise HTTPException(404, detail=f"no agent with id {agent_id}")
    return AgentScope(
        user=user,
        agent_id=agent["id"],
        agent=dict(agent),
        tables=AgentTables(agent["id"], agent["agent_prefix"]),
    )
