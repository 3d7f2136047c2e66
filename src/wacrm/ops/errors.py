"""App-wide answers for bad input that only the database notices."""

from __future__ import annotations

import logging

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg import errors

log = logging.getLogger(__name__)


async def out_of_range(request: Request, exc: Exception) -> JSONResponse:
    """An id or number too big for its column (e.g. /customers/10000000000000000000000): 422, not 500."""
    return JSONResponse(
        {
            "detail": "a number in the request is out of range: ids are whole numbers up to 9223372036854775807"
        },
        status_code=422,
    )


async def bad_data(request: Request, exc: Exception) -> JSONResponse:
    """A NUL character in any text of the request (PostgreSQL text cannot hold it): 422, not 500."""
    if "NUL" in str(exc):
        return JSONResponse(
            {
                "detail": "the request contains a NUL character (\\u0000), which text fields cannot hold"
            },
            status_code=422,
        )
    log.error("database refused the request's data", exc_info=exc)
    return JSONResponse({"detail": "Internal Server Error"}, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.NumericValueOutOfRange, out_of_range)
    app.add_exception_handler(psycopg.DataError, bad_data)
