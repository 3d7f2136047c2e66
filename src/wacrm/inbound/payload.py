"""Reading one webhook payload: validated, routed to its agents, mapped to row fields.

Nothing here writes: `wacrm.inbound.ingest` turns what these functions return into rows.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from psycopg import AsyncConnection
from pydantic import ValidationError

from wacrm.customers.service import Person
from wacrm.inbound.render import MEDIA_TYPES, render
from wacrm.inbound.routing import Route, RouteSource
from wacrm.inbound.schemas import (
    Contact,
    Message,
    Payload,
    Status,
    Value,
    find_phone_number_id,
    to_datetime,
    usable_id,
)

MESSAGE_CHANGES = frozenset({"edit", "revoke"})
STATUSES = frozenset({"sent", "delivered", "read", "played", "failed"})
IDENTITY_CHANGES = frozenset({"user_changed_number", "user_changed_user_id"})

FIELDS = frozenset(
    {"messages", "user_preferences", "smb_message_echoes", "history", "smb_app_state_sync", "calls"}
)
"""The webhook fields processed per number (others are journaled and skipped)."""
Change = tuple[Route, Value, dict[str, Any], str]
"""A usable change: its route, its model, its raw JSON value and its field."""


class ProcessingError(Exception):
    """A payload that cannot be processed now (kept in the journal with this message)."""


def validate_payload(data: Any) -> Payload:
    """The payload's model; ProcessingError when it is not a WhatsApp webhook."""
    if not isinstance(data, dict) or data.get("object") != "whatsapp_business_account":
        raise ProcessingError("unknown payload shape: 'object' is not 'whatsapp_business_account'")
    try:
        return Payload.model_validate(data)
    except ValidationError as exc:
        raise ProcessingError(f"unknown payload shape: {exc.errors()[0]['msg']}") from exc


async def payload_changes(
    conn: AsyncConnection[Any], data: Any, routes: RouteSource
) -> list[Change]:
    """The message changes of a payload with their routes (ProcessingError if one is unusable).

    The endpoint verified the body with the app secret of its first phone_number_id: every change
    must belong to a number with that same secret, or one tenant could write into another's tables.
    """
    payload = validate_payload(data)
    first = find_phone_number_id(data)
    signer_route = await routes.get(conn, first) if first else None
    signer = signer_route.app_secret if signer_route is not None else None
    changes: list[Change] = []
    for e_i, entry in enumerate(payload.entry or []):
        for c_i, change in enumerate(entry.changes or []):
            value = change.value
            if (change.field or "messages") not in FIELDS or value is None:
                continue
            pnid = value.metadata.phone_number_id if value.metadata else None
            if not pnid:
                raise ProcessingError("a change has no metadata.phone_number_id to route it by")
            route = await routes.get(conn, pnid)
            if route is None:
                raise ProcessingError(
                    f"unknown phone_number_id {pnid}: no WhatsApp configuration has it"
                )
            if route.problem:
                raise ProcessingError(route.problem)
            if route.app_secret != signer:
                raise ProcessingError(
                    f"the payload mixes numbers with different app secrets (phone_number_id "
                    f"{pnid}): its signature cannot vouch for all of them, so none is processed"
                )
            raw_value = data["entry"][e_i]["changes"][c_i]["value"]
            changes.append((route, value, raw_value, change.field or "messages"))
    return changes


def sender(msg: Message, contacts: list[Contact]) -> Person:
    """Who sent `msg`: its own ids first, then those of its contact entry."""
    contact = None
    for c in contacts:
        if (msg.from_user_id and c.user_id == msg.from_user_id) or (
            msg.from_ and c.wa_id == msg.from_
        ):
            contact = c
            break
    else:
        contact = contacts[0] if len(contacts) == 1 else None
    profile = contact.profile if contact and contact.profile else None
    return (
        msg.from_ or (contact.wa_id if contact else None),
        msg.from_user_id or (contact.user_id if contact else None) or None,
        profile.name if profile else None,
        profile.username if profile else None,
        (contact.parent_user_id if contact else None) or msg.parent_user_id,
    )


def changed_identity(raw: dict[str, Any]) -> tuple[str, str | None, str | None] | None:
    """(kind, new wa_id, new BSUID) of a `user_changed_number` / `user_changed_user_id` message."""
    system = raw.get("system")
    if raw.get("type") != "system" or not isinstance(system, dict):
        return None
    kind = system.get("type")
    if kind not in IDENTITY_CHANGES:
        return None
    new_wa = system.get("new_wa_id") or (
        system.get("wa_id") if kind == "user_changed_number" else None
    )
    new_bsuid = system.get("new_user_id") or (
        system.get("user_id") if kind == "user_changed_user_id" else None
    )
    return kind, new_wa, new_bsuid


def message_fields(msg: Message, raw: dict[str, Any]) -> dict[str, Any]:
    """The columns of an inbound message row (the one mapping from a message to its row)."""
    kind = msg.type or "unknown"
    r = render(raw)
    media = kind in MEDIA_TYPES and r.media_id is not None
    return {
        "text": r.text,
        "ts": to_datetime(msg.timestamp),
        "media_type": r.media_type,
        "caption": r.caption,
        "wamid": msg.id,
        "wa_type": kind,
        "context": msg.context.id if msg.context else None,
        "media_id": r.media_id,
        "mime": r.media_mime_type,
        "sha256": r.media_sha256,
        "size": r.media_size,
        "filename": r.media_filename,
        "media_status": "pending" if media else None,
    }


def message_change(msg: Message, raw: dict[str, Any]) -> dict[str, Any] | None:
    """The fields of an `edit` / `revoke` of an earlier message (None: no original named)."""
    kind = str(msg.type)
    obj = _dict(raw.get(kind))
    target = obj.get("original_message_id") or (msg.context.id if msg.context else None)
    if not target or not isinstance(target, str) or not usable_id(target):
        return None
    text = caption = None
    if kind == "edit":
        inner = _dict(obj.get("message"))
        inner_type = inner.get("type") or ("text" if "text" in inner else None)
        if inner_type is None:
            inner_type = next((k for k in MEDIA_TYPES if k in inner), None)
        if inner_type is None:
            return None
        r = render({**inner, "type": inner_type})
        text, caption = r.text, r.caption
    return {
        "kind": kind,
        "target": target,
        "change_wamid": msg.id or f"{kind}:{target}:{msg.timestamp}",
        "text": text,
        "caption": caption,
        "ts": to_datetime(msg.timestamp),
    }


def preferences(raw_value: dict[str, Any]) -> list[tuple[Person, dict[str, Any]]]:
    """The marketing preferences of a `user_preferences` change: (customer, fields) each."""
    contacts = [
        Contact.model_validate(c) for c in raw_value.get("contacts") or [] if isinstance(c, dict)
    ]
    found = []
    for pref in raw_value.get("user_preferences") or []:
        if not isinstance(pref, dict) or pref.get("category") not in (None, "marketing_messages"):
            continue
        choice = str(pref.get("value") or "").lower()
        if choice not in ("stop", "resume"):
            continue
        wa_id, bsuid = pref.get("wa_id"), pref.get("user_id")
        msg = Message.model_validate({"from": wa_id, "from_user_id": bsuid})
        person = sender(msg, contacts)
        if not person[0] and not person[1]:
            continue
        row = {
            "opted_in": choice == "resume",
            "ts": to_datetime(pref.get("timestamp")),
            "source": "WhatsApp: "
            + ("marketing messages stopped" if choice == "stop" else "marketing messages resumed"),
        }
        found.append((person, row))
    return found


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def media_job(route: Route, fields: dict[str, Any]) -> dict[str, Any]:
    """The `media.download` job of a stored message with media (`message_fields`)."""
    return {
        "agent_id": route.agent_id,
        "wamid": fields["wamid"],
        "media_id": fields["media_id"],
        "sha256": fields["sha256"],
        "phone_number_id": route.phone_number_id,
    }


def status_fields(st: Status) -> dict[str, Any] | None:
    """The fields of a delivery status (None: one without an id or of an unknown kind)."""
    if not st.id or st.status not in STATUSES:
        return None
    err = st.errors[0] if st.errors else None
    return {
        "wamid": st.id,
        "status": st.status,
        "ts": to_datetime(st.timestamp),
        "code": err.code if err else None,
        "title": err.title if err else None,
        "details": err.details if err else None,
    }


def order_fields(order: dict[str, Any]) -> dict[str, Any]:
    """The order and item fields of a catalog `order` message (unusable items are skipped)."""
    rids: list[str] = []
    qtys: list[int] = []
    prices: list[Decimal] = []
    currency = None
    for item in order.get("product_items") or []:
        if not isinstance(item, dict):
            continue
        try:
            qty = int(item.get("quantity") or 1)
            price = Decimal(
                str(item.get("item_price") if item.get("item_price") is not None else 0)
            )
        except (ValueError, TypeError, InvalidOperation):
            continue
        if qty < 1 or price < 0 or not price.is_finite():
            continue
        rids.append(str(item.get("product_retailer_id") or "item"))
        qtys.append(qty)
        prices.append(price)
        currency = currency or item.get("currency")
    return {
        "rids": rids,
        "qtys": qtys,
        "prices": prices,
        # none given: the workspace's default currency (agents.default_currency, in ORDER)
        "currency": str(currency).upper()[:3] if currency else None,
        "total": sum((q * p for q, p in zip(qtys, prices, strict=True)), Decimal(0)),
        "catalog_id": order.get("catalog_id"),
        "notes": order.get("text"),
    }
