"""The one base of the errors a service raises for a request it refuses.

A service raises `AppError("what is wrong and how to fix it", status=...)` (or a subclass); the
app's one handler (`wacrm.ops.errors.install`) answers `{"detail": exc.detail}` with that status
(and `headers`), pages `exc.page_detail`, so routers need no mapping of their own. A page's error
is placed next to the form field named by `field`; pages that re-render a form with what was
typed catch the error.
The message may be a `wacrm.i18n.text.Text`: `str(error)` is then in the viewer's language (what
pages show) and `error.message` stays English (the JSON API, logs).
"""

from __future__ import annotations

from collections.abc import Mapping

from wacrm.i18n.text import Text, english


class AppError(Exception):
    """A refused request: `status` is the HTTP status to answer with, `message` says why, `field`
    names the input at fault (if one is), `headers` go with the answer (e.g. Retry-After)."""

    status = 400
    field: str | None = None

    def __init__(
        self,
        message: str | Text,
        status: int | None = None,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = english(message)
        if status is not None:
            self.status = status
        if field is not None:
            self.field = field
        self.headers = dict(headers or {})

    @property
    def detail(self) -> str:
        """The API's answer (`{"detail": ...}`): the message, in English."""
        return self.message

    @property
    def page_detail(self) -> str:
        """What a page shows: the message in the viewer's language (where it is a Text)."""
        return str(self)


class FieldError(AppError):
    """An AppError whose API answer names the field first (`"<field>: <message>"`); pages show
    the message next to the field."""

    status = 422

    @property
    def detail(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class NotFoundError(AppError):
    """What the request names does not exist (or belongs to another workspace): 404."""

    status = 404
