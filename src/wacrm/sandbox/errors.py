"""Meta's Graph API errors as the sandbox answers them (`{"error": {...}}`)."""

from __future__ import annotations

import secrets
from typing import Any


def fbtrace_id() -> str:
    return "A" + secrets.token_urlsafe(16).replace("-", "x").replace("_", "y")


class GraphError(Exception):
    """An error answered in Meta's JSON shape with its HTTP status."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        status: int = 400,
        details: str | None = None,
        subcode: int | None = None,
        type_: str = "OAuthException",
        title: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details or message
        self.subcode = subcode
        self.type = type_
        self.title = title or message

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error["fbtrace_id"] = fbtrace_id()
        return {"error": error}

    def status_error(self) -> dict[str, Any]:
        """The same error as an entry of a `failed` status' `errors[]`."""
        return {
            "code": self.code,
            "title": self.title,
            "message": self.title,
            "error_data": {"details": self.details},
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
        }


def invalid_token(expired: bool = False) -> GraphError:
    if expired:
        return GraphError(
            190,
            "Error validating access token: Session has expired.",
            status=401,
            subcode=463,
            details="The access token has expired.",
        )
    return GraphError(
        190,
        "Invalid OAuth access token - Cannot parse access token",
        status=401,
        details="The access token is missing or does not belong to this phone number.",
    )


def unknown_object(node_id: str, method: str = "get") -> GraphError:
    return GraphError(
        100,
        f"Unsupported {method} request. Object with ID '{node_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation.",
        subcode=33,
        type_="GraphMethodException",
    )


def invalid_parameter(details: str) -> GraphError:
    return GraphError(100, "(#100) Invalid parameter", details=details)


def parameter_value(details: str) -> GraphError:
    return GraphError(
        131009,
        "(#131009) Parameter value is not valid",
        details=details,
        title="Parameter value is not valid",
    )


def outside_window() -> GraphError:
    return GraphError(
        131047,
        "(#131047) Re-engagement message",
        details="Message failed to send because more than 24 hours have passed since the "
        "customer last replied to this number.",
        title="Re-engagement message",
    )


def throughput() -> GraphError:
    return GraphError(
        130429,
        "(#130429) Rate limit hit",
        status=429,
        details="Cloud API message throughput has been reached.",
        title="Rate limit hit",
    )


def pair_rate() -> GraphError:
    return GraphError(
        131056,
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        details="Message failed to send because there were too many messages sent from this "
        "phone number to the same phone number in a short period of time.",
        title="(Business Account, Consumer Account) pair rate limit hit",
    )


def template_missing(name: str, language: str) -> GraphError:
    return GraphError(
        132001,
        "(#132001) Template name does not exist in the translation",
        status=404,
        details=f"template name ({name}) does not exist in {language}",
        title="Template name does not exist in the translation",
    )


def template_params(details: str) -> GraphError:
    return GraphError(
        132000,
        "(#132000) Number of parameters does not match the expected number of params",
        details=details,
        title="Number of parameters does not match the expected number of params",
    )


def undeliverable(code: int = 131026, details: str | None = None) -> GraphError:
    titles = {131026: "Message undeliverable", 131047: "Re-engagement message"}
    title = titles.get(code, "Message failed to send")
    return GraphError(code, f"(#{code}) {title}", details=details or f"{title}.", title=title)


def server_error() -> GraphError:
    return GraphError(
        131000,
        "(#131000) Something went wrong",
        status=500,
        details="Message failed to send because of an unknown error. Try again later.",
        title="Something went wrong",
    )


def not_registered() -> GraphError:
    return GraphError(
        133010,
        "Account not registered",
        details="The phone number is not registered on the WhatsApp Business Platform.",
    )


def missing_permission(permission: str) -> GraphError:
    return GraphError(
        200,
        f"(#200) Permissions error: the access token lacks {permission}",
        status=403,
        details=f"The access token does not have the {permission} permission.",
    )
