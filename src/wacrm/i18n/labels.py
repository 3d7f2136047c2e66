"""Translated names of the values the database keeps in English (order statuses, media states)."""

from __future__ import annotations

from wacrm.i18n import gettext as _
from wacrm.i18n.text import Text


def N_(message: str) -> str:
    """Marks a string for extraction; it is translated where it is shown."""
    return message


ORDER_STATUSES = {
    "pending": N_("pending"),
    "confirmed": N_("confirmed"),
    "processing": N_("processing"),
    "shipped": N_("shipped"),
    "delivered": N_("delivered"),
    "cancelled": N_("cancelled"),
}
ORDER_SOURCES = {
    "manual": N_("entered by hand"),
    "chat": N_("from a chat message"),
    "whatsapp_catalog": N_("WhatsApp catalog order"),
}
BROADCAST_STATES = {
    "scheduled": N_("scheduled"),
    "running": N_("sending"),
    "sent": N_("sent"),
    "cancelled": N_("cancelled"),
    "failed": N_("failed"),
}
MEDIA_STATES = {
    "pending": N_("downloading"),
    "retrying": N_("retrying the download"),
    "failed": N_("download failed"),
    "ready": N_("ready"),
}


MEDIA_KINDS = {
    "image": N_("image"),
    "video": N_("video"),
    "audio": N_("audio"),
    "document": N_("document"),
    "sticker": N_("sticker"),
}


def media_kind_text(kind: str | None) -> Text | str:
    """A kind of media file inside a message (a Text value), translated where it is shown."""
    return Text(MEDIA_KINDS[kind]) if kind in MEDIA_KINDS else (kind or "")


def order_status(status: str | None) -> str:
    return _(ORDER_STATUSES[status]) if status in ORDER_STATUSES else (status or "")


def order_status_text(status: str | None) -> Text | str:
    """An order status inside a message (a Text value), translated where it is shown."""
    return Text(ORDER_STATUSES[status]) if status in ORDER_STATUSES else (status or "")


def media_state(state: str | None) -> str:
    return _(MEDIA_STATES[state]) if state in MEDIA_STATES else (state or "")


def order_source(source: str | None) -> str:
    return _(ORDER_SOURCES[source]) if source in ORDER_SOURCES else (source or "")


def broadcast_state(state: str | None) -> str:
    return _(BROADCAST_STATES[state]) if state in BROADCAST_STATES else (state or "")
