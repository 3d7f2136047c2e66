"""The callback URL to paste into Meta: WACRM_PUBLIC_URL when set, else the address serving this
request (its scheme, host and port, as the proxy headers the server trusts say)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from wacrm.config import Settings

PATH = "/webhooks/whatsapp"


@dataclass(frozen=True)
class Callback:
    url: str
    from_setting: bool  # True: WACRM_PUBLIC_URL; False: the address this page was served from
    warning: str | None


def public_base(settings: Settings, request: Request) -> tuple[str, bool]:
    """(base URL without a trailing slash, whether it comes from WACRM_PUBLIC_URL)."""
    if "public_url" in settings.model_fields_set:
        return settings.public_url.rstrip("/"), True
    return str(request.base_url).rstrip("/"), False


def callback_url(request: Request) -> Callback:
    base, from_setting = public_base(request.app.state.settings, request)
    warning = None
    if not base.startswith("https://"):
        warning = (
            "Meta calls only https:// callback URLs. Serve the CRM behind HTTPS (a reverse proxy "
            "with a certificate, docs/going-live.md) and set WACRM_PUBLIC_URL to its address."
        )
    return Callback(url=base + PATH, from_setting=from_setting, warning=warning)
