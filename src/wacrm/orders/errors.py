"""The errors the orders service raises for a request it refuses."""

from __future__ import annotations

from wacrm.errors import AppError, NotFoundError


class OrderError(AppError, ValueError):
    """A request the orders service refuses; `status` is the HTTP status to answer with (still a
    ValueError: forms catch bad input as one)."""

    status = 422

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, status)


class OrderNotFoundError(OrderError, NotFoundError):
    """The order itself is not there (not one of its items or its customer)."""

    status = 404


def not_found(what: str, ident: object) -> OrderError:
    if what == "order":
        return OrderNotFoundError(f"no order with id {ident} for this agent")
    return OrderError(f"no {what} with id {ident} for this agent", status=404)
