"""The names of conversation statuses and member roles in the viewer's language."""

from __future__ import annotations

from wacrm.i18n import pgettext

_STATUS_NAMES = {  # translated when asked for (each inbox row asks for one)
    "open": lambda: pgettext("conversation status", "open"),
    "pending": lambda: pgettext("conversation status", "pending"),
    "snoozed": lambda: pgettext("conversation status", "snoozed"),
    "resolved": lambda: pgettext("conversation status", "resolved"),
    "all": lambda: pgettext("conversation status", "all"),
}


def status_name(status: str) -> str:
    name = _STATUS_NAMES.get(status)
    return name() if name else status


def role_name(role: str) -> str:
    names = {
        "owner": pgettext("member role", "owner"),
        "member": pgettext("member role", "member"),
    }
    return names.get(role, role)
