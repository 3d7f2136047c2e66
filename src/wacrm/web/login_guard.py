"""Login CSRF: a pre-session token (cookie + hidden form field) and the origin check of sign-in."""

from __future__ import annotations

import hmac
import re
import secrets

from fastapi import Request
from fastapi.responses import Response

from wacrm.accounts.origin import is_cross_site

LOGIN_CSRF_COOKIE = "wacrm_login_csrf"
WELL_FORMED = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
REFUSED = (
    "This sign-in form has expired or was sent from another site; "
    "please sign in again on this page."
)


def form_token(request: Request) -> str:
    """The browser's pre-session token if it has a well-formed one, else a new one."""
    current = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if WELL_FORMED.fullmatch(current):
        return current
    return secrets.token_urlsafe(32)


def set_token_cookie(request: Request, response: Response, token: str) -> None:
    """Strict: another site's page cannot make the browser send it (nor read it: HttpOnly)."""
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=12 * 3600,
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.cookie_secure,
        path="/login",
    )


def sign_in_allowed(request: Request, field: str) -> bool:
    """The form's field matches the cookie (double submit) and the browser names no other site."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not field or is_cross_site(request):
        return False
    return hmac.compare_digest(cookie.encode(), field.encode())


def forget_token(request: Request, response: Response) -> None:
    """After a sign-in the pre-session token has served (a new form gets a new one)."""
    response.delete_cookie(
        LOGIN_CSRF_COOKIE,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.cookie_secure,
    )
