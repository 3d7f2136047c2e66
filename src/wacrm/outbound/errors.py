"""Meta's error codes as exception families, each with a human explanation, the fix, and whether to retry."""

from __future__ import annotations

from typing import Any, ClassVar


class SendError(Exception):
    """A send that Meta (or the network) refused. `explanation` is what we show people."""

    codes: ClassVar[frozenset[int]] = frozenset()
    transient: ClassVar[bool] = False
    summary: ClassVar[str] = "WhatsApp refused the message"
    # what an agent (who cannot change the number's settings) is told to do instead, when only
    # an administrator can make the fix the summary names
    agent_fix: ClassVar[str | None] = None

    def __init__(
        self, code: int | None = None, title: str | None = None, details: str | None = None
    ) -> None:
        self.code = code
        self.title = title or self.summary
        self.details = details
        super().__init__(self.explanation)

    @property
    def explanation(self) -> str:
        return self.summary if self.code is None else f"{self.summary} (Meta error {self.code})"

    def explanation_for(self, *, is_admin: bool) -> str:
        """The explanation for one reader: an agent is told who fixes what only admins can."""
        text = self.summary
        if not is_admin and self.agent_fix:
            text = f"{text}. {self.agent_fix}"
        return text if self.code is None else f"{text} (Meta error {self.code})"


ADMIN_NUMBERS = "Admin › WhatsApp numbers"
TELL_ADMIN = "Ask an administrator to fix it; then press Retry on the messages that were not sent"


class AuthError(SendError):
    codes = frozenset({190})
    summary = (
        "WhatsApp refused this number's access token (it expired or was revoked): an "
        f"administrator enters a new one in {ADMIN_NUMBERS} and presses Test connection"
    )
    agent_fix = TELL_ADMIN


class WindowError(SendError):
    codes = frozenset({131047})
    summary = (
        "more than 24 hours passed since the customer's last message, so only an approved "
        "template can be sent: send a template"
    )


class ThroughputError(SendError):
    codes = frozenset({130429, 131056, 80007, 131048, 131049})
    transient = True
    summary = "WhatsApp is limiting how fast this number sends: the message will be retried shortly"


class UndeliverableError(SendError):
    codes = frozenset({131026})
    summary = (
        "the message could not be delivered: the customer may not use WhatsApp, may have blocked "
        "the number, or must accept new terms; check the number or reach them another way"
    )


class TemplateError(SendError):
    codes = frozenset({132000, 132001, 132005, 132007, 132012, 132015, 132016})
    summary = (
        "the template does not exist in this language, is not approved, or got the wrong "
        "parameters: check its name, language and parameters in WhatsApp Manager"
    )


class MediaError(SendError):
    codes = frozenset({131052, 131053})
    summary = (
        "WhatsApp could not process the media file: check its type and size and upload it again"
    )


class ParameterError(SendError):
    codes = frozenset({131009, 131051, 100, 131008, 131021})
    summary = "the message had an invalid or unsupported value: change it and send again"


class AccountRestrictedError(SendError):
    codes = frozenset({368, 131031})
    summary = (
        "the WhatsApp Business account is restricted or locked by Meta: whoever manages the "
        "account checks its status in WhatsApp Manager and follows Meta's instructions"
    )
    agent_fix = "Tell an administrator"


class GenericError(SendError):
    codes = frozenset({131000, 1, 2, 131016})
    transient = True
    summary = "WhatsApp had a temporary problem: the message will be retried"


class NetworkError(SendError):
    transient = True
    summary = (
        "WhatsApp could not be reached (network error or timeout): the message will be retried"
    )


class NotConfiguredError(SendError):
    summary = (
        "this workspace has no active WhatsApp number: an administrator connects one in "
        f"{ADMIN_NUMBERS}"
    )
    agent_fix = TELL_ADMIN


FAMILIES: tuple[type[SendError], ...] = (
    AuthError,
    WindowError,
    ThroughputError,
    UndeliverableError,
    TemplateError,
    MediaError,
    ParameterError,
    AccountRestrictedError,
    GenericError,
)
_BY_CODE = {code: family for family in FAMILIES for code in family.codes}


def from_code(
    code: int | None,
    title: str | None = None,
    details: str | None = None,
    *,
    http_status: int | None = None,
) -> SendError:
    """The exception for Meta's error `code` (unknown codes: transient on HTTP 5xx, else permanent)."""
    family = _BY_CODE.get(code) if code is not None else None
    if family is None:
        family = GenericError if http_status is None or http_status >= 500 else SendError
    return family(code, title, details)


def from_meta_error(error: dict[str, Any], *, http_status: int | None = None) -> SendError:
    """From a Graph API `error` object or a `failed` status's `errors[]` item."""
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else data
    code = error.get("code")
    return from_code(
        int(code) if code is not None else None,
        error.get("title") or error.get("message"),
        details or error.get("message"),
        http_status=http_status,
    )


def explain(code: int | None, is_admin: bool | None = None) -> str:
    """The human explanation for Meta's error `code` (for failed statuses arriving by webhook);
    with `is_admin`, worded for that reader (SendError.explanation_for)."""
    error = from_code(code)
    return error.explanation if is_admin is None else error.explanation_for(is_admin=is_admin)
