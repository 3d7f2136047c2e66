"""Accounts API: login/logout, own password and tokens; admin management of users."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from psycopg import AsyncConnection

from wacrm.accounts import service, sessions, tokens
from wacrm.accounts.deps import (
    CurrentUser,
    current_user,
    db_conn,
    public,
    request_connection,
    require_admin,
)
from wacrm.accounts.origin import is_cross_site
from wacrm.accounts.schemas import (
    LoginIn,
    LoginOut,
    Message,
    PasswordChange,
    PasswordReset,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["accounts"])
Conn = AsyncConnection[Any]


async def _user_out(conn: Conn, user_id: UUID) -> UserOut:
    user = await service.get_user(conn, user_id=user_id)
    cur = await conn.execute("SELECT id FROM agents WHERE user_id = %s", (user_id,))
    agent = await cur.fetchone()
    return UserOut(**user, agent_id=agent["id"] if agent else None)


@router.post(
    "/auth/login",
    response_model=LoginOut,
    dependencies=[Depends(public)],
    responses={401: {"model": Message}, 429: {"model": Message}},
)
async def login(body: LoginIn, request: Request, response: Response):
    """Open a browser session: sets the `wacrm_session` cookie and returns the CSRF token.

    Refused (403) when the browser says another site's page sent it (login CSRF)."""
    if is_cross_site(request):
        raise HTTPException(
            403, detail="sign-in from another site's page is refused; sign in on the CRM itself"
        )
    token, csrf = await sessions.login(
        lambda: request_connection(request),  # no connection held while the password is checked
        email=body.email,
        password=body.password,
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )
    async with request_connection(request) as conn:
        srow = await sessions.resolve_session(conn, token)
        assert srow is not None
        user = await _user_out(conn, srow["id"])
    set_session_cookie(response, token, request.app.state.settings.cookie_secure)
    return LoginOut(user=user, csrf_token=csrf)


def set_session_cookie(response: Response, token: str, secure: bool) -> None:
    response.set_cookie(
        sessions.SESSION_COOKIE,
        token,
        max_age=int(sessions.ABSOLUTE_TIMEOUT.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


@router.post("/auth/logout", status_code=204)
async def logout(
    user: CurrentUser = Depends(current_user), conn: Conn = Depends(db_conn)
) -> Response:
    """End the current browser session (bearer tokens are revoked with DELETE /tokens/{id})."""
    if user.session_id is not None:
        await sessions.logout(conn, session_id=user.session_id)
    response = Response(status_code=204)
    response.delete_cookie(sessions.SESSION_COOKIE, path="/")
    return response


@router.get("/auth/me", response_model=UserOut)
async def me(user: CurrentUser = Depends(current_user), conn: Conn = Depends(db_conn)):
    return await _user_out(conn, user.id)


@router.post(
    "/auth/password",
    status_code=204,
    responses={400: {"model": Message}, 403: {"model": Message}, 429: {"model": Message}},
)
async def change_password(
    body: PasswordChange,
    request: Request,
    user: CurrentUser = Depends(current_user),
    conn: Conn = Depends(db_conn),
) -> Response:
    """Change your own password (needs the current one); your other sessions are signed out.

    Wrong current passwords are throttled like sign-ins (429 with Retry-After)."""
    await sessions.change_password(
        conn,
        user_id=user.id,
        current_password=body.current_password,
        new_password=body.new_password,
        keep_session_id=user.session_id,
        ip=request.client.host if request.client else None,
    )
    return Response(status_code=204)


@router.get("/tokens", response_model=list[TokenOut])
async def list_my_tokens(user: CurrentUser = Depends(current_user), conn: Conn = Depends(db_conn)):
    return await tokens.list_tokens(conn, user_id=user.id)


@router.post("/tokens", response_model=TokenCreated, status_code=201)
async def create_my_token(
    body: TokenCreate, user: CurrentUser = Depends(current_user), conn: Conn = Depends(db_conn)
):
    """Create a named API token for yourself; the response is the only time it is shown."""
    token = await tokens.create_token(conn, user_id=user.id, name=body.name)
    return TokenCreated(token=token, name=body.name.strip())


@router.delete("/tokens/{token_id}", response_model=TokenOut)
async def revoke_my_token(
    token_id: int, user: CurrentUser = Depends(current_user), conn: Conn = Depends(db_conn)
):
    return await tokens.revoke_token(conn, user_id=user.id, token_id=token_id)


# --- administration of users ---------------------------------------------------------------


@router.get("/users", response_model=list[UserOut], dependencies=[Depends(require_admin)])
async def list_users(conn: Conn = Depends(db_conn)):
    return await service.list_users(conn)


@router.post(
    "/users",
    response_model=UserOut,
    status_code=201,
    dependencies=[Depends(require_admin)],
    responses={400: {"model": Message}, 409: {"model": Message}},
)
async def create_user(body: UserCreate, conn: Conn = Depends(db_conn)):
    user = await service.create_user(
        conn, email=body.email, name=body.name, role=body.role, password=body.password
    )
    return UserOut(**user)


@router.get("/users/{user_id}", response_model=UserOut, dependencies=[Depends(require_admin)])
async def get_user(user_id: UUID, conn: Conn = Depends(db_conn)):
    return await _user_out(conn, user_id)


@router.patch("/users/{user_id}", response_model=UserOut, dependencies=[Depends(require_admin)])
async def update_user(
    user_id: UUID,
    body: UserUpdate,
    admin: CurrentUser = Depends(require_admin),
    conn: Conn = Depends(db_conn),
):
    if user_id == admin.id and body.role == "agent":
        raise HTTPException(400, detail="you cannot remove your own admin role")
    await service.update_user(conn, user_id=user_id, name=body.name, role=body.role)
    return await _user_out(conn, user_id)


@router.post("/users/{user_id}/deactivate", response_model=UserOut)
async def deactivate_user(
    user_id: UUID, admin: CurrentUser = Depends(require_admin), conn: Conn = Depends(db_conn)
):
    """Deactivate a user: it can no longer log in; its sessions and tokens stop working."""
    if user_id == admin.id:
        raise HTTPException(400, detail="you cannot deactivate yourself")
    await service.set_active(conn, user_id=user_id, active=False)
    return await _user_out(conn, user_id)


@router.post(
    "/users/{user_id}/activate", response_model=UserOut, dependencies=[Depends(require_admin)]
)
async def activate_user(user_id: UUID, conn: Conn = Depends(db_conn)):
    await service.set_active(conn, user_id=user_id, active=True)
    return await _user_out(conn, user_id)


@router.post("/users/{user_id}/password", status_code=204, dependencies=[Depends(require_admin)])
async def reset_password(
    user_id: UUID, body: PasswordReset, conn: Conn = Depends(db_conn)
) -> Response:
    """Set a user's password (admin); the user's sessions are signed out."""
    await sessions.reset_password(conn, user_id=user_id, new_password=body.new_password)
    return Response(status_code=204)
