"""The names of conversation statuses and member roles in the viewer's language."""

from __future__ import annotations

from wacrm.i18n import pgettext


def status_name(status: str) -> str:
    names = {
        "open": pgettext("conversation status", "open"),
        "pending": pgettext("conversation status", "pending"),
        "snoozed": pgettext("conversation status", "snoozed"),
        "resolved": pgettext("conversation status", "resolved"),
        "all": pgettext("conversation status", "all"),
    }
    return names.get(status, status)


def role_name(role: str) -> str:
    names = {
        "owner": pgettext("member role", "owner"),
        "member": pgettext("member role", "member"),
    }
    return names.get(role, role)
