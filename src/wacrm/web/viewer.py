"""Who is looking: the language and time zone each web request renders with.

`ViewerMiddleware` starts every request with the browser's language (Accept-Language) and time
zone (the `wacrm_tz` cookie that app.js keeps equal to the browser's zone); `resolve()` then applies
the signed-in user's saved preferences, once per request.
"""

from __future__ import annotations

from urllib.parse import unquote

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from wacrm.accounts.deps import request_connection
from wacrm.i18n import Viewer, negotiate, reset_viewer, set_viewer, valid_time_zone, viewer
from wacrm.preferences import service as preferences

TZ_COOKIE = "wacrm_tz"


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == name:
                    return unquote(v)
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class ViewerMiddleware:
    """Sets the request's Viewer from the browser (pure ASGI, so it wraps every route)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        browser_zone = valid_time_zone(_cookie(scope, TZ_COOKIE)) or "UTC"
        token = set_viewer(
            Viewer(language=negotiate(_header(scope, b"accept-language")), time_zone=browser_zone)
        )
        try:
            await self.app(scope, receive, send)
        finally:
            reset_viewer(token)


async def resolve(request: Request) -> Viewer:
    """The viewer with the signed-in user's saved preferences applied (one query per request)."""
    current = viewer()
    user = getattr(request.state, "current_user", None)
    if user is None or "user" in current.loaded:
        return current
    current.loaded.add("user")
    async with request_connection(request) as conn:
        row = await preferences.load(conn, user.id)
    if row is None:
        return current
    if row["language"]:
        current.language = row["language"]
    if row["time_zone"] and valid_time_zone(row["time_zone"]):
        current.time_zone = row["time_zone"]
        current.time_zone_chosen = True
    current.alert_sound = row["alert_sound"]
    current.alert_desktop = row["alert_desktop"]
    return current
