"""Type-aware previews and the chat's view of a message row."""

from __future__ import annotations

from typing import Any

from wacrm.i18n import gettext as _
from wacrm.i18n import ngettext

PREVIEW_MAX = 120


def message_type(row: dict[str, Any]) -> str:
    """The WhatsApp type of a message row (wa_type, else media_type; 'none' means text)."""
    kind = row.get("wa_type") or row.get("media_type") or "text"
    return "text" if kind == "none" else str(kind)


def _section(row: dict[str, Any], key: str) -> Any:
    """The `key` object of the raw inbound JSON, else of the outbound payload."""
    for source in (row.get("raw"), row.get("payload")):
        if isinstance(source, dict) and source.get(key) is not None:
            return source[key]
    return None


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW_MAX else text[: PREVIEW_MAX - 1] + "…"


def _with_caption(icon: str, label: str, caption: str | None) -> str:
    caption = (caption or "").strip()
    return f"{icon} {caption}" if caption else f"{icon} {label}"


def _is_voice(row: dict[str, Any]) -> bool:
    audio = _section(row, "audio")
    if isinstance(audio, dict) and "voice" in audio:
        return bool(audio["voice"])
    return (row.get("media_mime_type") or "").startswith("audio/ogg")


def order_unit_count(row: dict[str, Any]) -> int | None:
    """Units of an order message (the sum of quantities, as every page counts them): the linked
    order's, else the raw product_items'."""
    if row.get("order_items") is not None:
        return int(row["order_items"])
    order = _section(row, "order")
    if isinstance(order, dict) and isinstance(order.get("product_items"), list):
        total = 0
        for item in order["product_items"]:
            try:
                total += int(item.get("quantity", 1))
            except (TypeError, ValueError, AttributeError):
                total += 1
        return total
    return None


def preview(row: dict[str, Any]) -> str:
    """One line for the inbox: '📷 Photo', '📄 invoice.pdf', '🛒 Order of 3 units', or the text."""
    if row.get("deleted_at"):
        return "🚫 " + _("This message was deleted")
    kind = message_type(row)
    text = (row.get("message") or "").strip()
    caption = row.get("caption")
    if kind == "image":
        return _short(_with_caption("📷", _("Photo"), caption))
    if kind == "video":
        return _short(_with_caption("🎥", _("Video"), caption))
    if kind == "audio":
        return "🎤 " + _("Voice message") if _is_voice(row) else "🎵 " + _("Audio")
    if kind == "sticker":
        return "💟 " + _("Sticker")
    if kind == "document":
        name = row.get("media_filename") or (_section(row, "document") or {}).get("filename")
        return _short(f"📄 {name or caption or _('Document')}")
    if kind == "location":
        loc = _section(row, "location") or {}
        label = loc.get("name") or loc.get("address") if isinstance(loc, dict) else None
        return _short(f"📍 {label}" if label else "📍 " + _("Location"))
    if kind == "contacts":
        return _contacts_preview(_section(row, "contacts"))
    if kind == "order":
        return _order_preview(order_unit_count(row))
    if kind == "template":
        return _short(f"📋 {text}" if text else "📋 " + _("Template"))
    if kind in ("unsupported", "errors"):
        return "⚠️ " + _("Unsupported message")
    if kind == "system":
        return _short(text or "ℹ️ " + _("System message"))
    return _short(text or caption or "")


def _contacts_preview(cards: Any) -> str:
    if isinstance(cards, list) and len(cards) > 1:
        return "👤 " + _("%(n)s contacts") % {"n": len(cards)}
    name = None
    if isinstance(cards, list) and cards and isinstance(cards[0], dict):
        name = (cards[0].get("name") or {}).get("formatted_name")
    return _short(f"👤 {name}" if name else "👤 " + _("Contact"))


def _order_preview(count: int | None) -> str:
    if count is None:
        return "🛒 " + _("Order")
    return "🛒 " + ngettext("Order of %(num)d unit", "Order of %(num)d units", count) % {
        "num": count
    }


def _error(row: dict[str, Any]) -> dict[str, Any] | None:
    if row.get("error_code") is None and not row.get("error_title"):
        return None
    return {
        "code": row.get("error_code"),
        "title": row.get("error_title"),
        "details": row.get("error_details"),
    }


def _sent_file(row: dict[str, Any]) -> bool:
    """An outbound media message whose uploaded file the CRM keeps (served like a downloaded one)."""
    payload = row.get("payload")
    return (
        row.get("direction") == "outbound"
        and isinstance(payload, dict)
        and payload.get("media_id") is not None
    )


def _media(row: dict[str, Any]) -> dict[str, Any] | None:
    if message_type(row) not in ("image", "video", "audio", "document", "sticker"):
        return None
    return {
        "url": row.get("media_url"),
        "mime_type": row.get("media_mime_type"),
        "filename": row.get("media_filename"),
        "size": row.get("media_size"),
        "status": row.get("media_status") or ("ready" if _sent_file(row) else None),
        "error": row.get("media_error"),
        "voice": _is_voice(row) if message_type(row) == "audio" else None,
    }


def _location(row: dict[str, Any]) -> dict[str, Any] | None:
    loc = _section(row, "location")
    if message_type(row) != "location" or not isinstance(loc, dict):
        return None
    lat, lon = loc.get("latitude"), loc.get("longitude")
    return {
        "latitude": lat,
        "longitude": lon,
        "name": loc.get("name"),
        "address": loc.get("address"),
        "map_url": f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=16/{lat}/{lon}"
        if lat is not None and lon is not None
        else None,
    }


def _contacts(row: dict[str, Any]) -> list[dict[str, Any]] | None:
    cards = _section(row, "contacts")
    if message_type(row) != "contacts" or not isinstance(cards, list):
        return None
    out = []
    for card in cards:
        if not isinstance(card, dict):
            continue
        phones = [
            p.get("phone") or p.get("wa_id")
            for p in card.get("phones") or []
            if isinstance(p, dict)
        ]
        emails = [e.get("email") for e in card.get("emails") or [] if isinstance(e, dict)]
        out.append(
            {
                "name": (card.get("name") or {}).get("formatted_name"),
                "phones": [p for p in phones if p],
                "emails": [e for e in emails if e],
            }
        )
    return out


def chat_message(row: dict[str, Any], *, quoted: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the chat view needs about one message row."""
    kind = message_type(row)
    reply_to = None
    if row.get("context_wamid"):
        reply_to = {"wamid": row["context_wamid"], "found": quoted is not None}
        if quoted is not None:
            reply_to.update(
                id=quoted["id"],
                direction=quoted["direction"],
                type=message_type(quoted),
                preview=preview(quoted),
            )
    order = None
    if row.get("order_id") is not None:
        order = {
            "id": row["order_id"],
            "unit_count": order_unit_count(row),
            "item_count": order_unit_count(row),
            "url": f"/api/v1/orders/{row['order_id']}",
        }
    return {
        "id": row["id"],
        "wamid": row.get("wamid"),
        "direction": row["direction"],
        "type": kind,
        "text": row.get("message") or "",
        "caption": row.get("caption"),
        "preview": preview(row),
        "timestamp": row["timestamp"],
        "is_read": bool(row.get("is_read")),
        "status": row.get("status"),
        "status_at": row.get("status_at"),
        "error": _error(row),
        "media": _media(row),
        "location": _location(row),
        "contacts": _contacts(row),
        "reply_to": reply_to,
        "reaction": row.get("reaction") or None,
        "agent_reaction": row.get("agent_reaction") or None,
        "order": order,
        "sent_by": row.get("sent_by"),
        "automatic": (row.get("payload") or {}).get("automatic")
        if isinstance(row.get("payload"), dict)
        else None,
        "sent_by_name": row.get("sent_by_name"),
        "edited_at": row.get("edited_at"),
        "deleted": row.get("deleted_at") is not None,
        "origin": row.get("origin"),
    }
