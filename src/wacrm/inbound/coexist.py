"""Coexistence webhooks (a number used in the WhatsApp Business app and the Cloud API at once).

`smb_message_echoes`: what the owner sent from the phone app, stored as outbound messages marked
`origin = 'business_app'` (live: the conversation moves up; the 24-hour window, unread counts and
automations are untouched, since those follow inbound messages only). `history`: the backfill of
past chats, stored with their original timestamps and `origin = 'history'`, read, without moving
any conversation; each chunk (and a declined share) is recorded in `history_chunks`.
`smb_app_state_sync`: the owner's address-book names, kept in `address_book_name`.
Everything is idempotent: messages by wamid, chunks by (phase, chunk_order).
"""

from __future__ import annotations

from typing import Any

import orjson
from psycopg import AsyncConnection

from wacrm.customers import service as customers
from wacrm.inbound import payload, statements
from wacrm.inbound.calls import call_rows
from wacrm.inbound.routing import Route
from wacrm.inbound.schemas import Message, to_datetime, usable_id

FIELDS = frozenset({"smb_message_echoes", "history", "smb_app_state_sync", "calls"})
"""The fields written on their own (after what came before them in the batch)."""
_MARK_COEXISTENCE = (
    "UPDATE whatsapp_configuration SET coexistence_since = now()"
    " WHERE id = %s AND coexistence_since IS NULL"
)
_CHUNK = """
INSERT INTO history_chunks AS h (agent_id, phone_number_id, phase, chunk_order, progress,
                                 messages, error_code, error_title)
VALUES (%(agent_id)s, %(pnid)s, %(phase)s, %(chunk)s, %(progress)s, %(messages)s, %(code)s,
        %(title)s)
ON CONFLICT (agent_id, phone_number_id, phase, chunk_order) DO UPDATE
  SET progress = EXCLUDED.progress, messages = EXCLUDED.messages,
      error_code = EXCLUDED.error_code, error_title = EXCLUDED.error_title, received_at = now()
"""


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


async def apply(
    conn: AsyncConnection[Any], route: Route, raw_value: dict[str, Any], field: str
) -> list[dict[str, Any]]:
    """Write one coexistence change; the media download jobs of the messages it stored."""
    if field == "calls":
        meta = _dict(raw_value.get("metadata"))
        return await _write(conn, route, call_rows(raw_value, meta.get("display_phone_number")))
    await conn.execute(_MARK_COEXISTENCE, (route.config_id,))
    if field == "smb_message_echoes":
        echoes = _list(raw_value.get("message_echoes"))
        return await _write(conn, route, [_row(e, e.get("to"), e, "business_app") for e in echoes])
    if field == "history":
        rows: list[dict[str, Any] | None] = []
        for item in _list(raw_value.get("history")):
            rows += await _history_item(conn, route, item)
        return await _write(conn, route, rows)
    if field == "smb_app_state_sync":
        await _address_book(conn, route, _list(raw_value.get("state_sync")))
    return []


def _row(
    msg: dict[str, Any], customer: Any, ids: dict[str, Any], origin: str
) -> dict[str, Any] | None:
    """The row of one echoed or historical message (None: unusable, skipped)."""
    wamid = msg.get("id")
    if not isinstance(wamid, str) or not usable_id(wamid):
        return None
    phone = str(customer) if customer else None
    bsuid = ids.get("to_user_id") if origin == "business_app" else ids.get("user_id")
    if not phone and not bsuid:
        return None
    model = Message.model_validate(msg)
    fields = payload.message_fields(model, msg)
    status = "sent"
    context = msg.get("history_context")
    if isinstance(context, dict) and str(context.get("status", "")).lower() in payload.STATUSES:
        status = str(context["status"]).lower()
    return {
        **fields,
        "person": (phone, bsuid, None, None, ids.get("to_parent_user_id")),
        "phone": customers.e164(phone),
        "bsuid": bsuid,
        "raw": msg,
        "origin": origin,
        "status": status,
        "direction": "outbound" if origin == "business_app" or msg.get("to") else "inbound",
    }


async def _history_item(
    conn: AsyncConnection[Any], route: Route, item: dict[str, Any]
) -> list[dict[str, Any] | None]:
    meta = _dict(item.get("metadata"))
    errors = _list(item.get("errors"))
    threads = _list(item.get("threads"))
    rows = [_row(m, t.get("id"), t, "history") for t in threads for m in _list(t.get("messages"))]
    chunk = {
        "agent_id": route.agent_id,
        "pnid": route.phone_number_id,
        "phase": -1 if errors and not threads else (_int(meta.get("phase")) or 0),
        "chunk": _int(meta.get("chunk_order")) or 0,
        "progress": _int(meta.get("progress")),
        "messages": sum(1 for r in rows if r is not None),
        "code": _int(errors[0].get("code")) if errors else None,
        "title": str(errors[0].get("title") or errors[0].get("message") or "")[:500]
        if errors
        else None,
    }
    await conn.execute(_CHUNK, chunk)
    return rows


async def _write(
    conn: AsyncConnection[Any],
    route: Route,
    rows: list[dict[str, Any]] | list[dict[str, Any] | None],
) -> list[dict[str, Any]]:
    found = [r for r in rows if r is not None]
    changes = [r for r in found if r["wa_type"] in payload.MESSAGE_CHANGES]
    messages = [r for r in found if r["wa_type"] not in payload.MESSAGE_CHANGES]
    assert route.tables is not None
    if messages:
        senders = customers.fold_senders([r.pop("person") for r in messages])
        await customers.lock_phones(conn, senders.lock_keys(route.tables))
        await customers.resolve_senders(conn, route.tables, senders)
        for i, r in enumerate(messages):
            r["o"] = i
        sql = statements.for_agent(route.tables)
        params = {"messages": orjson.dumps(messages).decode(), "agent_id": route.agent_id}
        await conn.execute(sql.coexist_messages, params, prepare=True)
    for r in changes:
        change = payload.message_change(Message.model_validate(r["raw"]), r["raw"])
        if change is not None:
            prefix = route.tables.prefix
            await conn.execute(
                statements.for_agent(route.tables).change,
                {**change, "agent_id": route.agent_id, "prefix": prefix},
            )
    return [payload.media_job(route, r) for r in messages if r["media_status"] == "pending"]


async def _address_book(
    conn: AsyncConnection[Any], route: Route, syncs: list[dict[str, Any]]
) -> None:
    """Contacts the owner added, edited or removed in the phone app."""
    assert route.tables is not None
    sql = statements.for_agent(route.tables)
    for sync in syncs:
        contact = _dict(sync.get("contact"))
        phone = contact.get("phone_number") or contact.get("wa_id")
        phone = "".join(ch for ch in str(phone or "") if ch.isdigit())
        if not 7 <= len(phone) <= 15:
            continue
        removed = str(sync.get("action") or "").lower() == "remove"
        name = None if removed else (contact.get("full_name") or contact.get("first_name"))
        if not removed:  # an added contact becomes a customer (a removed one is only unnamed)
            senders = customers.fold_senders([(phone, None, None, None, None)])
            await customers.lock_phones(conn, senders.lock_keys(route.tables))
            await customers.resolve_senders(conn, route.tables, senders)
        meta = _dict(sync.get("metadata"))
        params = {
            "phone": customers.e164(phone),
            "name": str(name)[:200] if name else None,
            "ts": to_datetime(meta.get("timestamp")),
            "agent_id": route.agent_id,
        }
        await conn.execute(sql.address_book, params)
