"""Message objects a customer sends (Meta's `messages[]` entries), with realistic defaults."""

from __future__ import annotations

from typing import Any

from wacrm.sandbox.payloads import new_wamid, now_ts

MEDIA_KINDS = ("image", "video", "audio", "voice", "document", "sticker")
KINDS = (
    "text",
    *MEDIA_KINDS,
    "location",
    "contacts",
    "interactive",
    "button",
    "reaction",
    "order",
    "system",
    "unsupported",
    "request_welcome",
    "edit",
    "revoke",
)


def _defaults(kind: str, business_phone: str) -> dict[str, Any] | list[dict[str, Any]]:
    match kind:
        case "text":
            return {"body": "Hello!"}
        case "location":
            return {
                "latitude": 52.520008,
                "longitude": 13.404954,
                "name": "Alexanderplatz",
                "address": "Alexanderplatz 1, 10178 Berlin",
            }
        case "contacts":
            return [
                {
                    "name": {
                        "formatted_name": "Ana Souza",
                        "first_name": "Ana",
                        "last_name": "Souza",
                    },
                    "phones": [
                        {"phone": "+55 11 91234 5678", "wa_id": "5511912345678", "type": "CELL"}
                    ],
                }
            ]
        case "interactive":
            return {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}}
        case "button":
            return {"payload": "Track order", "text": "Track order"}
        case "reaction":
            return {"message_id": "", "emoji": "\U0001f44d"}
        case "order":
            return {
                "catalog_id": "1234567890",
                "text": "Please send these",
                "product_items": [
                    {
                        "product_retailer_id": "SKU-1",
                        "quantity": 2,
                        "item_price": 9.99,
                        "currency": "USD",
                    }
                ],
            }
        case "system":
            return {
                "body": "User changed their phone number",
                "type": "user_changed_number",
                "new_wa_id": "15550009999",
            }
    return {}


def _merge(default: Any, given: Any) -> Any:
    if isinstance(default, dict) and isinstance(given, dict):
        out = dict(default)
        for key, val in given.items():
            out[key] = _merge(default.get(key), val) if key in default else val
        if out.get("type") in ("button_reply", "list_reply") and given.get("type") == "list_reply":
            out.pop("button_reply", None)
            out.setdefault("list_reply", {"id": "row-1", "title": "Row 1", "description": ""})
        return out
    return default if given is None else given


def _change(kind: str, content: Any, original: str | None) -> dict[str, Any]:
    """The object of an `edit` (new text or caption) or `revoke` of the message `original`."""
    given = content if isinstance(content, dict) else {}
    target = original or given.get("original_message_id")
    if not target:
        raise ValueError(f"an {kind} names the message it changes: give context_message_id")
    obj: dict[str, Any] = {"original_message_id": target}
    if kind == "edit":
        inner = given.get("message")
        if not isinstance(inner, dict):
            body = content if isinstance(content, str) else "(edited)"
            inner = {"type": "text", "text": {"body": body}}
        obj["message"] = inner
    return obj


def build_message(
    kind: str,
    content: Any = None,
    *,
    business_phone: str = "",
    media: dict[str, Any] | None = None,
    wamid: str | None = None,
    timestamp: str | int | None = None,
    context_message_id: str | None = None,
) -> dict[str, Any]:
    """One entry of `messages[]` for `kind` (see KINDS); `content` overrides the type's object.

    `content` may be a string for text (the body) and media (the caption). Media kinds need
    `media` = {"id", "mime_type", "sha256", "filename"?}. `voice` gives an `audio` with `voice: true`.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown message type {kind!r}; one of {', '.join(KINDS)}")
    msg: dict[str, Any] = {"id": wamid or new_wamid(), "timestamp": str(timestamp or now_ts())}
    if kind in MEDIA_KINDS:
        if media is None:
            raise ValueError(f"a {kind} message needs a media object")
        wire = "audio" if kind == "voice" else kind
        obj: dict[str, Any] = {
            "mime_type": media["mime_type"],
            "sha256": media["sha256"],
            "id": media["id"],
        }
        if isinstance(content, str):
            content = {"caption": content}
        if kind == "document":
            obj["filename"] = media.get("filename") or "document.pdf"
        if kind == "voice":
            obj["voice"] = True
        if isinstance(content, dict):
            obj.update(content)
        if kind in ("audio", "voice", "sticker"):
            obj.pop("caption", None)
        msg.update({"type": wire, wire: obj})
    elif kind == "text":
        body = (
            content
            if isinstance(content, str)
            else _merge(_defaults(kind, business_phone), content)
        )
        msg.update({"type": "text", "text": {"body": body} if isinstance(body, str) else body})
    elif kind == "unsupported":
        msg.update(
            {
                "type": "unsupported",
                "unsupported": content if isinstance(content, dict) else {"type": "unknown"},
                "errors": [
                    {
                        "code": 131051,
                        "title": "Message type unknown",
                        "message": "Message type unknown",
                        "error_data": {"details": "Message type is currently not supported."},
                    }
                ],
            }
        )
    elif kind == "request_welcome":
        msg["type"] = "request_welcome"
    elif kind in ("edit", "revoke"):
        msg.update({"type": kind, kind: _change(kind, content, context_message_id)})
        return msg
    else:
        msg.update({"type": kind, kind: _merge(_defaults(kind, business_phone), content)})
    if context_message_id:
        msg["context"] = {"from": business_phone, "id": context_message_id}
    elif kind in ("button", "interactive"):
        msg["context"] = {"from": business_phone, "id": new_wamid()}
    return msg
