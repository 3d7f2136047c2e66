"""The one base of the errors a service raises for a request it refuses.

A service raises `AppError("what is wrong and how to fix it", status=...)` (or a subclass); the
app's one handler (`wacrm.ops.errors.install`) answers `{"detail": message}` with that status, so
routers need no mapping of their own. Web pages that show the error next to a form catch it.
The message may be a `wacrm.i18n.text.Text`: `str(error)` is then in the viewer's language (what
pages show) and `error.message` stays English (the JSON API, logs).
"""

from __future__ import annotations

from wacrm.i18n.text import Text, english


class AppError(Exception):
    """A refused request: `status` is the HTTP status to answer with, `message` says why."""

    status = 400

    def __init__(self, message: str | Text, status: int | None = None) -> None:
        super().__init__(message)
        self.message = english(message)
        if status is not None:
            self.status = status


class NotFoundError(AppError):
    """What the request names does not exist (or belongs to another workspace): 404."""

    status = 404
