"""App-wide error answers: a refused request (`wacrm.errors.AppError`), and bad input that only
the database notices. Pages get them inside the app's layout (`wacrm.web.errors`)."""

from __future__ import annotations

import logging

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from psycopg import errors

from wacrm.errors import AppError
from wacrm.i18n import gettext as _
from wacrm.web.errors import error_page, is_web

log = logging.getLogger(__name__)


async def refused(request: Request, exc: Exception) -> Response:
    """A service's AppError: its status and its detail (`{"detail": ...}` in English, with its
    headers) in JSON; for pages, its page_detail (the viewer's language) in the layout (htmx:
    next to the field it names)."""
    assert isinstance(exc, AppError)
    if is_web(request):
        response = await error_page(request, exc.status, exc.page_detail, field=exc.field)
        response.headers.update(exc.headers)
        return response
    return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)


async def out_of_range(request: Request, exc: Exception) -> Response:
    """An id or number too big for its column (e.g. /customers/10000000000000000000000): 422, not 500."""
    if is_web(request):  # pages answer inside the app's layout
        return await error_page(request, 422, _("a number you entered is too large"))
    return JSONResponse(
        {
            "detail": "a number in the request is out of range: ids are whole numbers up to 9223372036854775807"
        },
        status_code=422,
    )


def _nul(exc: Exception) -> bool:
    """A NUL in text (psycopg refuses it) or in JSON (jsonb refuses \\u0000)."""
    detail = getattr(getattr(exc, "diag", None), "message_detail", None) or ""
    return "NUL" in str(exc) or (
        isinstance(exc, errors.UntranslatableCharacter) and "\\u0000" in detail
    )


async def bad_data(request: Request, exc: Exception) -> Response:
    """A NUL character in any text of the request (PostgreSQL text cannot hold it): 422, not 500."""
    if _nul(exc) and is_web(request):
        return await error_page(request, 422, _("the text contains a NUL character; remove it"))
    if _nul(exc):
        return JSONResponse(
            {
                "detail": "the request contains a NUL character (\\u0000), which text fields cannot hold"
            },
            status_code=422,
        )
    log.error("database refused the request's data", exc_info=exc)
    return JSONResponse({"detail": "Internal Server Error"}, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(AppError, refused)
    app.add_exception_handler(errors.NumericValueOutOfRange, out_of_range)
    app.add_exception_handler(psycopg.DataError, bad_data)
