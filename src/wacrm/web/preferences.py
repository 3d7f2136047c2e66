"""/account/preferences: language, time zone and new-message alerts of the signed-in user."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from wacrm import i18n
from wacrm.accounts.deps import CurrentUser, db_conn, request_connection
from wacrm.preferences import service as preferences
from wacrm.web.deps import web_user
from wacrm.web.templating import render
from wacrm.web.viewer import TZ_COOKIE

# Every page holds the request's connection (db_conn, first: the user is resolved on it too).
router = APIRouter(include_in_schema=False, dependencies=[Depends(db_conn)])


async def _page(
    request: Request,
    user: CurrentUser,
    values: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    saved: bool = False,
    status_code: int = 200,
) -> Response:
    return await render(
        request,
        "preferences.html",
        user=user,
        nav="preferences",
        status_code=status_code,
        values=values,
        errors=errors or {},
        saved=saved,
        zones=i18n.time_zone_names(),
        zone_label=i18n.zone_label,
        browser_zone=i18n.valid_time_zone(request.cookies.get(TZ_COOKIE)) or "UTC",
    )


@router.get("/account/preferences", response_class=HTMLResponse)
async def preferences_page(
    request: Request, user: CurrentUser = Depends(web_user), saved: bool = False
) -> Response:
    async with request_connection(request) as conn:
        row = await preferences.load(conn, user.id)
    values = dict(row or {})
    values["language"] = values.get("language") or ""
    values["time_zone"] = values.get("time_zone") or ""
    return await _page(request, user, values, saved=saved)


@router.post("/account/preferences", response_class=HTMLResponse)
async def save_preferences(
    request: Request,
    user: CurrentUser = Depends(web_user),
    language: str = Form("", max_length=20),
    time_zone: str = Form("", max_length=64),
    alert_sound: bool = Form(False),
    alert_desktop: bool = Form(False),
) -> Response:
    values: dict[str, Any] = {
        "language": language,
        "time_zone": time_zone,
        "alert_sound": alert_sound,
        "alert_desktop": alert_desktop,
    }
    try:
        async with request_connection(request) as conn:
            await preferences.save(conn, user_id=user.id, **values)
    except preferences.PreferencesError as exc:
        return await _page(request, user, values, errors={exc.field: str(exc)}, status_code=400)
    return RedirectResponse("/account/preferences?saved=true", status_code=303)
