"""Errors of the web pages inside the app's layout; for htmx, a fragment placed next to the form.

The JSON API (/api, /webhooks, /healthz, …) keeps FastAPI's JSON answers.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from wacrm.accounts import deps as account_deps
from wacrm.accounts.deps import CurrentUser
from wacrm.i18n import gettext as _
from wacrm.i18n import validation
from wacrm.i18n.labels import N_
from wacrm.i18n.text import Text

log = logging.getLogger(__name__)
NOT_WEB = ("/api/", "/api", "/webhooks", "/healthz", "/readyz", "/metrics", "/openapi.json")
TITLES = {
    400: N_("Please check what you entered"),
    403: N_("Not allowed"),
    404: N_("Not found"),
    405: N_("Not allowed"),
    409: N_("That cannot be done now"),
    413: N_("Too large"),
    422: N_("Please check what you entered"),
    429: N_("Too many attempts"),
}
FIELD_NAMES = {"from": N_("From"), "to": N_("To"), "days": N_("Range"), "q": N_("Search")}


def is_web(request: Request) -> bool:
    """A request for a page or an htmx fragment (not the API, webhooks or probes)."""
    path = request.url.path
    return not any(path == p or path.startswith(p.rstrip("/") + "/") for p in NOT_WEB)


async def _user(request: Request) -> CurrentUser | None:
    """The signed-in user for the layout, if any (never raises)."""
    if not request.cookies.get("wacrm_session"):
        return None
    try:
        user = await account_deps.current_user(request)
    except Exception:  # an error page must render even when the session cannot be read
        return None
    return user if user.auth == "session" else None


async def error_page(
    request: Request, status: int, detail: str, *, field: str | None = None
) -> Response:
    """The error as a page in the layout, or (htmx) a fragment the page puts next to the form."""
    from wacrm.web.templating import env, render

    headers = {"Cache-Control": "no-store"}
    if request.headers.get("hx-request"):
        text = env.get_template("partials/error.html").render(detail=detail, field=field)
        return HTMLResponse(text, status_code=status, headers=headers)
    user = await _user(request)
    title = _(TITLES.get(status, N_("Something went wrong")))
    return await render(
        request,
        "error.html",
        user=user,
        status_code=status,
        headers=headers,
        title=title,
        detail=detail,
    )


def _sentence(detail: Any) -> str:
    if isinstance(detail, str | Text):
        return str(detail)
    return _("the request could not be handled")


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if not is_web(request) or exc.status_code < 400:
        if isinstance(exc.detail, Text):  # the JSON API answers in English
            exc.detail = exc.detail.english()
        return await http_exception_handler(request, exc)
    detail = _sentence(exc.detail)
    if exc.status_code == 404 and detail == "Not Found":
        detail = str(Text("there is no page at {path}", path=request.url.path))
    elif exc.status_code == 405 and detail == "Method Not Allowed":
        detail = _("this address does not take that kind of request")
    response = await error_page(request, exc.status_code, detail)
    for name, value in (exc.headers or {}).items():
        response.headers.setdefault(name, value)
    return response


async def on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if not is_web(request):
        return await request_validation_exception_handler(request, exc)
    field, message = validation.first_message(list(exc.errors()))
    label = _(FIELD_NAMES[field]) if field in FIELD_NAMES else field
    beside_field = field and request.headers.get("hx-request")  # the field names it already
    detail = f"{label}: {message}" if label and not beside_field else str(message)
    return await error_page(request, 422, detail, field=field)


async def on_server_error(request: Request, exc: Exception) -> Response:
    """500 inside the layout for pages (the error itself is logged by the server)."""
    if not is_web(request):
        from fastapi.responses import PlainTextResponse

        return PlainTextResponse("Internal Server Error", status_code=500)
    return await error_page(
        request,
        500,
        _(
            "something went wrong on the server; it has been logged. Try again, and tell an "
            "administrator if it keeps happening"
        ),
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(500, on_server_error)
