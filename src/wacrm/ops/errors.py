"""App-wide answers for bad input that only the database notices."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg import errors


async def out_of_range(request: Request, exc: Exception) -> JSONResponse:
    """An id or number too big for its column (e.g. /customers/10000000000000000000000): 422, not 500."""
    return JSONResponse(
        {
            "detail": "a number in the request is out of range: ids are whole numbers up to 9223372036854775807"
        },
        status_code=422,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.NumericValueOutOfRange, out_of_range)
