"""Request dependencies: the database connection, the current user, admins only, the agent scope.

Every `/api/v1` route declares its access level through one of these dependencies (the
authorization-matrix test reads them from the route table): `public`, `current_user`,
`require_admin` or `agent_scope`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

from fastapi import Depends, HTTPException, Query, Request
from psycopg import AsyncConnection

from wacrm.accounts import sessions, tokens
from wacrm.agents.tables import AgentTables
from wacrm.i18n.text import Text
from wacrm.members import service as members

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


async def db_conn(request: Request) -> AsyncIterator[AsyncConnection[Any]]:
    """One pooled connection (autocommit, dict rows) for the request: every dependency and
    helper that asks for it (`request_connection`) while the route runs shares it."""
    async with request.app.state.pool.connection() as conn:
        request.state.db = conn
        try:
            yield conn
        finally:
            request.state.db = None


@asynccontextmanager
async def request_connection(request: Request) -> AsyncIterator[AsyncConnection[Any]]:
    """The request's connection (`db_conn`) while it holds one, else a short one of the pool's:
    what the layout, the viewer and the user's own look-ups read with, so a request never
    holds two pooled connections at once."""
    conn = getattr(request.state, "db", None)
    if conn is not None:
        yield conn
        return
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
    role: str = "owner"  # "owner", "member" or "admin" (an administrator who is neither)
    conn: AsyncConnection[Any] | None = field(default=None, compare=False, repr=False)

    @property
    def db(self) -> AsyncConnection[Any]:
        """The request's connection (the one `db_conn` gives the route)."""
        if self.conn is None:
            raise RuntimeError("this scope was resolved without a connection")
        return self.conn

    @property
    def can_manage(self) -> bool:
        """Administrators and the workspace's owner manage its members and settings."""
        return self.user.is_admin or self.role == "owner"


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
            detail=Text(
                "missing or wrong CSRF token: send the page's csrf_token form field or the "
                "{header} header",
                header=CSRF_HEADER,
            ),
        )


async def _resolve_user(request: Request) -> CurrentUser:
    if hasattr(request.state, "current_user"):
        return request.state.current_user
    auth = request.headers.get("authorization")
    cookie = request.cookies.get(sessions.SESSION_COOKIE)
    async with request_connection(request) as conn:
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
        raise HTTPException(403, detail=Text("this action is for administrators only"))
    return user


class WorkspaceChoiceError(HTTPException):
    """The user works in several workspaces and did not say which (400 naming them)."""

    def __init__(self, choices: list[dict[str, Any]]) -> None:
        named = ", ".join(f"{w['id']} ({w['label']})" for w in choices)
        super().__init__(
            400,
            detail="you work in several workspaces: choose one with the agent_id query "
            f"parameter: {named}",
        )


def _no_workspace(agent_id: int) -> HTTPException:
    return HTTPException(404, detail=Text("no agent with id {agent_id}", agent_id=agent_id))


async def resolve_scope(
    conn: AsyncConnection[Any], user: CurrentUser, agent_id: int | None
) -> AgentScope | None:
    """The workspace a request works on: the one named by agent_id (admins any, others one
    they are a member or the owner of, else 404), or without it the user's only workspace
    (None when there is none; 400 naming the choices when there are several)."""
    if agent_id is not None:
        if user.is_admin:
            agent = await members.agent(conn, agent_id=agent_id)
            role = "admin"
        else:
            agent = await members.workspace_for(conn, user_id=user.id, agent_id=agent_id)
            role = agent["role"] if agent else ""
        if agent is None:
            raise _no_workspace(agent_id)
        return resolve_scope_of(user, agent, role, conn)
    mine = await members.workspaces(conn, user_id=user.id)
    if len(mine) > 1:
        raise WorkspaceChoiceError(mine)
    if not mine:
        return None
    return resolve_scope_of(user, mine[0], "admin" if user.is_admin else mine[0]["role"], conn)


def resolve_scope_of(
    user: CurrentUser, agent: dict[str, Any], role: str, conn: AsyncConnection[Any] | None
) -> AgentScope:
    return AgentScope(
        user=user,
        agent_id=agent["id"],
        agent=agent,
        tables=AgentTables(agent["id"], agent["agent_prefix"]),
        role=role,
        conn=conn,
    )


AGENT_ID = Query(
    None,
    description="The workspace (agent) to use. Without it: the user's own workspace or only "
    "membership; a user in several must choose (400 lists them). Administrators may open any.",
)


async def agent_scope(
    conn: AsyncConnection[Any] = Depends(db_conn),
    user: CurrentUser = Depends(current_user),
    agent_id: int | None = AGENT_ID,
) -> AgentScope:
    """The request's user, workspace (membership checked) and connection, resolved once. The
    connection is taken first, so the user is resolved on it too (one pooled connection)."""
    scope = await resolve_scope(conn, user, agent_id)
    if scope is None:
        if user.is_admin:
            raise HTTPException(
                400,
                detail=Text(
                    "administrators must choose the agent with the agent_id query parameter"
                ),
            )
        raise HTTPException(
            403,
            detail=Text(
                "your user is not linked to an active agent nor a member of one; ask an "
                "administrator to add you"
            ),
        )
    return scope


MANAGERS_ONLY = "only an administrator or the workspace's owner changes this"


async def manager_scope(scope: AgentScope = Depends(agent_scope)) -> AgentScope:
    """agent_scope for changing the workspace itself (its settings, members and labels):
    administrators and the owner; a member is refused 403 (members use labels, not manage them)."""
    if not scope.can_manage:
        raise HTTPException(403, detail=MANAGERS_ONLY)
    return scope


async def agent_scope_brief(
    request: Request,
    user: CurrentUser = Depends(current_user),
    agent_id: int | None = AGENT_ID,
) -> AgentScope:
    """agent_scope for long responses (SSE): the connection is given back once resolved."""
    async with request.app.state.pool.connection() as conn:
        scope = await agent_scope(user=user, agent_id=agent_id, conn=conn)
    return replace(scope, conn=None)
