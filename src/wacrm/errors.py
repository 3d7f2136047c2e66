"""The one base of the errors a service raises for a request it refuses.

A service raises `AppError("what is wrong and how to fix it", status=...)` (or a subclass); the
app's one handler (`wacrm.ops.errors.install`) answers `{"detail": message}` with that status, so
routers need no mapping of their own. Web pages that show the error next to a form catch it.
"""

from __future__ import annotations


class AppError(Exception):
    """A refused request: `status` is the HTTP status to answer with, `message` says why."""

    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class NotFoundError(AppError):
    """What the request names does not exist (or belongs to another workspace): 404."""

    status = 404
