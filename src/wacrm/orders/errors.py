"""The one exception the orders service raises for a request it refuses."""

from __future__ import annotations


class OrderError(ValueError):
    """A request the orders service refuses; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def not_found(what: str, ident: object) -> OrderError:
    return OrderError(f"no {what} with id {ident} for this agent", status=404)
