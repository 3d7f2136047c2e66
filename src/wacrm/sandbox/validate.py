"""Checks on a send request, answering 100 / 131009 / 132000 / 132001 the way Meta does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from wacrm.sandbox import errors, templates
from wacrm.sandbox.payloads import is_bsuid

SENDABLE = (
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "reaction",
    "interactive",
    "template",
)
MEDIA = ("image", "video", "audio", "document", "sticker")
INTERACTIVE = (
    "button",
    "list",
    "cta_url",
    "product",
    "product_list",
    "flow",
    "location_request_message",
    "catalog_message",
)


@dataclass
class Outbound:
    """A valid send: its type, what the caller gave as recipient, and the resolved ids."""

    type: str
    input: str
    wa_id: str | None
    user_id: str | None
    category: str = "service"

    @property
    def key(self) -> str:
        return self.user_id or self.wa_id or self.input


def _obj(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if not isinstance(value, dict):
        raise errors.invalid_parameter(f"Param {key} is required and must be an object.")
    return value


def _text(value: Any, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise errors.invalid_parameter(f"Param {name} is required.")
    if len(value) > limit:
        raise errors.parameter_value(f"Param {name} must be at most {limit} characters long.")
    return value


def recipient(body: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """(input, wa_id, user_id) from `to` (a phone number) or `recipient` (a BSUID)."""
    to, bsuid = body.get("to"), body.get("recipient")
    if to is None and bsuid is None:
        raise errors.invalid_parameter(
            "Param to is required (or recipient, a business-scoped user id)."
        )
    if to is not None:
        if not isinstance(to, str | int):
            raise errors.invalid_parameter("Param to must be a string.")
        digits = re.sub(r"[\s\-().+]", "", str(to))
        if is_bsuid(str(to)):
            return str(to), None, str(to)
        if not digits.isdigit() or not 7 <= len(digits) <= 15:
            raise errors.parameter_value(f"Param to ({to}) is not a valid phone number.")
        return str(to), digits, None
    if not isinstance(bsuid, str) or not is_bsuid(bsuid):
        raise errors.parameter_value(
            f"Param recipient ({bsuid}) is not a valid business-scoped user id."
        )
    return bsuid, None, bsuid


def _media(kind: str, obj: dict[str, Any], known_media: set[str]) -> None:
    has_id, has_link = "id" in obj, "link" in obj
    if has_id == has_link:
        raise errors.invalid_parameter(f"Param {kind} must have exactly one of id or link.")
    if has_id and str(obj["id"]) not in known_media:
        raise errors.parameter_value(f"Param {kind}['id'] ({obj['id']}) is not a valid media id.")
    if has_link and not re.match(r"^https?://\S+$", str(obj["link"])):
        raise errors.parameter_value(f"Param {kind}['link'] must be an http(s) URL.")
    if "caption" in obj:
        if kind in ("audio", "sticker"):
            raise errors.invalid_parameter(f"Param {kind}['caption'] is not a valid parameter.")
        _text(obj["caption"], f"{kind}['caption']", 1024)


def _interactive(obj: dict[str, Any]) -> None:
    kind = obj.get("type")
    if kind not in INTERACTIVE:
        raise errors.invalid_parameter(
            f"Param interactive['type'] must be one of {', '.join(INTERACTIVE)}."
        )
    action = _obj(obj, "action")
    if kind in ("button", "list"):
        _text((obj.get("body") or {}).get("text"), "interactive['body']['text']", 1024)
    if kind == "button":
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            raise errors.parameter_value(
                "Param interactive['action']['buttons'] must have 1 to 3 buttons."
            )
        for button in buttons:
            reply = button.get("reply") if isinstance(button, dict) else None
            if not isinstance(reply, dict) or not reply.get("id"):
                raise errors.invalid_parameter("Each button needs reply{id, title}.")
            _text(reply.get("title"), "interactive['action']['buttons'][]['reply']['title']", 20)
    if kind == "list":
        _text(action.get("button"), "interactive['action']['button']", 20)
        sections = action.get("sections")
        if not isinstance(sections, list) or not sections:
            raise errors.invalid_parameter("Param interactive['action']['sections'] is required.")
        rows = sum(len(s.get("rows") or []) for s in sections if isinstance(s, dict))
        if not 1 <= rows <= 10:
            raise errors.parameter_value("A list message must have 1 to 10 rows in total.")


def _params(components: list[Any], kind: str) -> int:
    for comp in components:
        if isinstance(comp, dict) and str(comp.get("type", "")).lower() == kind:
            params = comp.get("parameters") or []
            if not isinstance(params, list):
                raise errors.invalid_parameter(
                    f"Param components[{kind}]['parameters'] must be a list."
                )
            return len(params)
    return 0


def _template(obj: dict[str, Any]) -> str:
    name = obj.get("name")
    code = (
        (obj.get("language") or {}).get("code") if isinstance(obj.get("language"), dict) else None
    )
    if not isinstance(name, str) or not name or not isinstance(code, str) or not code:
        raise errors.invalid_parameter("Param template requires name and language['code'].")
    found = templates.find(name, code)
    if found is None:
        raise errors.template_missing(name, code)
    components = obj.get("components") or []
    if not isinstance(components, list):
        raise errors.invalid_parameter("Param template['components'] must be a list.")
    media = _media_header(found)
    if media:
        _check_header_media(components, media)
    for part in ("body",) if media else ("header", "body"):
        want, got = templates.placeholders(found, part.upper()), _params(components, part)
        if want != got:
            raise errors.template_params(
                f"{part} has {got} parameters but the template expects {want}."
            )
    return str(found["category"]).lower()


def _media_header(template: dict[str, Any]) -> str | None:
    for comp in template["components"]:
        if str(comp.get("type", "")).upper() == "HEADER":
            kind = str(comp.get("format", "TEXT")).lower()
            return kind if kind in ("image", "video", "document") else None
    return None


def _check_header_media(components: list[Any], kind: str) -> None:
    """A media header's one parameter: {type: kind, kind: {link or id}}, as Meta requires."""
    header = next(
        (c for c in components if isinstance(c, dict) and str(c.get("type")).lower() == "header"),
        None,
    )
    params = (header or {}).get("parameters") or []
    param = params[0] if isinstance(params, list) and len(params) == 1 else None
    media = param.get(kind) if isinstance(param, dict) and param.get("type") == kind else None
    if not isinstance(media, dict) or not (media.get("link") or media.get("id")):
        raise errors.GraphError(
            132012,
            "(#132012) Parameter format does not match format in the created template",
            details=f"header: Format mismatch, expected {kind.upper()}, received "
            f"{(param or {}).get('type', 'nothing') if isinstance(param, dict) else 'nothing'}.",
        )


def check_send(body: dict[str, Any], known_media: set[str]) -> Outbound:
    """Validate a send request body; raise GraphError like Meta when it is not acceptable."""
    if body.get("messaging_product") != "whatsapp":
        raise errors.invalid_parameter(
            "Param messaging_product is required and must be 'whatsapp'."
        )
    if body.get("recipient_type", "individual") != "individual":
        raise errors.invalid_parameter("Param recipient_type must be 'individual'.")
    to, wa_id, user_id = recipient(body)
    kind = body.get("type", "text")
    if kind not in SENDABLE:
        raise errors.invalid_parameter(f"Param type must be one of {{{', '.join(SENDABLE)}}}.")
    if "context" in body:
        ctx = body["context"]
        if not isinstance(ctx, dict) or not isinstance(ctx.get("message_id"), str):
            raise errors.invalid_parameter("Param context['message_id'] must be a message id.")
    if kind == "contacts":
        _contacts(body.get("contacts"))
        return Outbound(kind, to, wa_id, user_id)
    category = _check_content(kind, _obj(body, kind), known_media)
    return Outbound(kind, to, wa_id, user_id, category)


def _contacts(cards: Any) -> None:
    if (
        not isinstance(cards, list)
        or not cards
        or not all(
            isinstance(c, dict) and (c.get("name") or {}).get("formatted_name") for c in cards
        )
    ):
        raise errors.invalid_parameter("Param contacts needs cards with name['formatted_name'].")


def _check_content(kind: str, obj: dict[str, Any], known_media: set[str]) -> str:
    """Validate the `kind` object of a send; its pricing category."""
    if kind == "text":
        _text(obj.get("body"), "text['body']", 4096)
        if not isinstance(obj.get("preview_url", False), bool):
            raise errors.invalid_parameter("Param text['preview_url'] must be a boolean.")
    elif kind in MEDIA:
        _media(kind, obj, known_media)
    elif kind == "location":
        lat, lon = obj.get("latitude"), obj.get("longitude")
        if not isinstance(lat, int | float) or not isinstance(lon, int | float):
            raise errors.invalid_parameter(
                "Param location requires numeric latitude and longitude."
            )
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise errors.parameter_value("Param location latitude/longitude out of range.")
    elif kind == "reaction":
        if not isinstance(obj.get("message_id"), str) or not isinstance(obj.get("emoji", ""), str):
            raise errors.invalid_parameter("Param reaction requires message_id and emoji.")
    elif kind == "interactive":
        _interactive(obj)
    elif kind == "template":
        return _template(obj)
    return "service"
