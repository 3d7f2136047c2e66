"""How each WhatsApp message type is stored: readable text, media type and media fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})
_ICONS = {
    "image": "📷 Photo",
    "video": "🎥 Video",
    "audio": "🎤 Audio",
    "document": "📄 Document",
    "sticker": "Sticker",
}
_MEDIA_TYPE_OF = {
    "text": "none",
    "image": "image",
    "video": "video",
    "audio": "audio",
    "document": "document",
    "sticker": "sticker",
    "location": "location",
    "contacts": "contacts",
    "interactive": "interactive",
    "button": "button",
    "order": "order",
    "system": "system",
}


@dataclass
class Rendered:
    text: str
    media_type: str = "none"
    caption: str | None = None
    media_id: str | None = None
    media_mime_type: str | None = None
    media_sha256: str | None = None
    media_filename: str | None = None
    media_size: int | None = None


def _obj(msg: dict[str, Any], key: str) -> dict[str, Any]:
    value = msg.get(key)
    return value if isinstance(value, dict) else {}


def _coord(value: Any) -> str:
    return str(value) if value is not None else "?"


def _location(loc: dict[str, Any]) -> str:
    place = ", ".join(str(p) for p in (loc.get("name"), loc.get("address")) if p)
    coords = f"({_coord(loc.get('latitude'))}, {_coord(loc.get('longitude'))})"
    return f"📍 {place} {coords}" if place else f"📍 {coords}"


def _contacts(cards: Any) -> str:
    parts = []
    for card in cards if isinstance(cards, list) else []:
        if not isinstance(card, dict):
            continue
        name = (card.get("name") or {}).get("formatted_name") or "Contact"
        phones = [
            p.get("phone") or p.get("wa_id")
            for p in card.get("phones") or []
            if isinstance(p, dict)
        ]
        shown = [str(p) for p in phones if p]
        parts.append(f"{name} ({', '.join(shown)})" if shown else name)
    return "👤 " + "; ".join(parts) if parts else "👤 Contact card"


def _interactive(inter: dict[str, Any]) -> str:
    kind = inter.get("type")
    for key in ("button_reply", "list_reply"):
        reply = inter.get(key)
        if isinstance(reply, dict):
            title = reply.get("title") or reply.get("id") or ""
            desc = reply.get("description")
            return f"{title} — {desc}" if desc else str(title)
    permission = inter.get("call_permission_reply")
    if isinstance(permission, dict):
        answer = str(permission.get("response") or "").lower()
        said = {"accept": "accepted", "reject": "declined"}.get(answer, answer or "answered")
        return f"📞 Call permission {said}"
    nfm = inter.get("nfm_reply")
    if isinstance(nfm, dict):
        return str(nfm.get("body") or nfm.get("name") or "Form submitted")
    return f"[interactive reply: {kind or 'unknown'}]"


def _order(order: dict[str, Any]) -> str:
    items = order.get("product_items") or []
    count = len(items) if isinstance(items, list) else 0
    text = f"🛒 Order with {count} item{'s' if count != 1 else ''}"
    return f"{text}: {order['text']}" if order.get("text") else text


def _errors(msg: dict[str, Any]) -> str:
    errs = msg.get("errors") or []
    if isinstance(errs, list) and errs and isinstance(errs[0], dict):
        e = errs[0]
        title = e.get("title") or e.get("message") or ""
        data = e.get("error_data")
        details = data.get("details") if isinstance(data, dict) else None
        why = f" ({details})" if details and details != title else ""
        return f"[message not supported: {e.get('code', '?')} {title}{why}]"
    return "[message not supported]"


def render(msg: dict[str, Any]) -> Rendered:
    """The stored form of one message object (its raw JSON is stored alongside)."""
    kind = str(msg.get("type") or "unknown")
    media_type = _MEDIA_TYPE_OF.get(kind, "unsupported")
    if kind == "text":
        return Rendered(str(_obj(msg, "text").get("body") or ""), media_type)
    if kind in MEDIA_TYPES:
        media = _obj(msg, kind)
        caption = media.get("caption") or None
        filename = media.get("filename") or None
        label = _ICONS[kind]
        if kind == "audio" and media.get("voice"):
            label = "🎤 Voice message"
        size = media.get("file_size")
        return Rendered(
            text=caption or filename or label,
            media_type=media_type,
            caption=caption,
            media_id=media.get("id"),
            media_mime_type=media.get("mime_type"),
            media_sha256=media.get("sha256"),
            media_filename=filename,
            media_size=int(size) if isinstance(size, int | str) and str(size).isdigit() else None,
        )
    if kind == "location":
        return Rendered(_location(_obj(msg, "location")), media_type)
    if kind == "contacts":
        return Rendered(_contacts(msg.get("contacts")), media_type)
    if kind == "interactive":
        return Rendered(_interactive(_obj(msg, "interactive")), media_type)
    if kind == "button":
        button = _obj(msg, "button")
        return Rendered(str(button.get("text") or button.get("payload") or ""), media_type)
    if kind == "order":
        return Rendered(_order(_obj(msg, "order")), media_type)
    if kind == "system":
        system = _obj(msg, "system")
        return Rendered(
            str(system.get("body") or f"[system: {system.get('type', 'unknown')}]"), media_type
        )
    if kind == "request_welcome":
        return Rendered("[the customer opened the chat]", "system")
    if kind == "unsupported" or msg.get("errors"):
        return Rendered(_errors(msg), "unsupported")
    return Rendered(f"[unsupported message type: {kind}]", "unsupported")
