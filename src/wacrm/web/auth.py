"""Sign-in, sign-out, password change and the admin's workspace switch."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from wacrm.accounts import sessions, throttle
from wacrm.accounts.deps import (
    CurrentUser,
    db_conn,
    request_connection,
    require_csrf,
    resolve_scope,
)
from wacrm.accounts.router import set_session_cookie
from wacrm.accounts.service import AccountError
from wacrm.web import login_guard
from wacrm.web.deps import WORKSPACE_COOKIE, web_user
from wacrm.web.templating import render

router = APIRouter(include_in_schema=False)


def safe_next(value: str | None) -> str:
    """Only a local path may be a redirect target (no open redirects)."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/inbox"


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/inbox", status_code=303)


async def login_form(
    request: Request,
    *,
    next: str,
    email: str = "",
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The sign-in page with its pre-session CSRF token (field and cookie)."""
    token = login_guard.form_token(request)
    response = await render(
        request,
        "login.html",
        status_code=status_code,
        headers=headers,
        next=next,
        email=email,
        error=error,
        message=None,
        login_csrf=token,
    )
    login_guard.set_token_cookie(request, response, token)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "") -> Response:
    return await login_form(request, next=safe_next(next))


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    email: str = Form("", max_length=320),
    password: str = Form("", max_length=1024),
    next: str = Form("", max_length=2000),
    csrf_token: str = Form("", max_length=200),
) -> Response:
    target = safe_next(next)
    if not login_guard.sign_in_allowed(request, csrf_token):
        return await login_form(
            request, next=target, email=email, error=login_guard.REFUSED, status_code=403
        )
    try:
        token, _csrf = await sessions.login(
            request.app.state.pool.connection,  # anonymous: the request holds no other
            email=email,
            password=password,
            ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
        )
    except (throttle.LoginThrottledError, AccountError) as exc:  # 429 with Retry-After, 401, ...
        return await login_form(
            request,
            next=target,
            email=email,
            error=str(exc),
            status_code=exc.status,
            headers=exc.headers,
        )
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, token, request.app.state.settings.cookie_secure)
    login_guard.forget_token(request, response)
    return response


@router.post("/logout", dependencies=[Depends(db_conn)])
async def logout(request: Request, user: CurrentUser = Depends(web_user)) -> Response:
    await require_csrf(request, user)
    if user.session_id is not None:
        async with request_connection(request) as conn:
            await sessions.logout(conn, session_id=user.session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(sessions.SESSION_COOKIE, path="/")
    response.delete_cookie(WORKSPACE_COOKIE, path="/")
    return response


@router.get("/account/password", response_class=HTMLResponse)
async def password_page(request: Request, user: CurrentUser = Depends(web_user)) -> Response:
    return await render(
        request, "password.html", user=user, nav="account", error=None, message=None
    )


@router.post("/account/password", response_class=HTMLResponse, dependencies=[Depends(db_conn)])
async def change_password(
    request: Request,
    user: CurrentUser = Depends(web_user),
    current_password: str = Form("", max_length=1024),
    new_password: str = Form("", max_length=1024),
    confirm_password: str = Form("", max_length=1024),
) -> Response:
    context: dict[str, Any] = {"user": user, "nav": "account", "error": None, "message": None}
    if new_password != confirm_password:
        return await render(
            request,
            "password.html",
            status_code=400,
            **{**context, "error": "the two new passwords differ; type it twice the same"},
        )
    try:
        async with request_connection(request) as conn:
            await sessions.change_password(
                conn,
                user_id=user.id,
                current_password=current_password,
                new_password=new_password,
                keep_session_id=user.session_id,
                ip=request.client.host if request.client else None,
            )
    except (throttle.LoginThrottledError, AccountError) as exc:  # 429 with Retry-After, 403, ...
        return await render(
            request,
            "password.html",
            status_code=exc.status,
            headers=exc.headers,
            **{**context, "error": str(exc)},
        )
    return await render(
        request, "password.html", **{**context, "message": "Your password was changed."}
    )


@router.post("/workspace", dependencies=[Depends(db_conn)])
async def switch_workspace(
    request: Request,
    user: CurrentUser = Depends(web_user),
    agent_id: int = Form(..., ge=1, le=2**31 - 1),
    next: str = Form("/inbox", max_length=2000),
) -> Response:
    """Choose the workspace whose inbox, chats and orders the pages show (administrators any,
    others one they work in; any other answers 404)."""
    async with request_connection(request) as conn:
        try:
            await resolve_scope(conn, user, agent_id)
        except HTTPException as exc:
            return await render(
                request,
                "error.html",
                user=user,
                status_code=exc.status_code,
                title="No such workspace",
                detail=str(exc.detail),
            )
    target = safe_next(next)
    if target.startswith("/chat/"):  # a chat belongs to the previous workspace
        target = "/inbox"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        WORKSPACE_COOKIE,
        str(agent_id),
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.cookie_secure,
        path="/",
    )
    return response
