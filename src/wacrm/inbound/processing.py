"""Turning one decoded webhook payload into customers, messages, orders, statuses and events.

Every statement is written so that it needs no result of an earlier one (rows are found again by
their WhatsApp ids), so a whole webhook, or a batch of them, runs in pipeline mode: one round trip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Protocol

import orjson
from psycopg import AsyncConnection
from pydantic import ValidationError

from wacrm.agents.tables import AgentTables
from wacrm.customers import service as customers
from wacrm.inbound.render import MEDIA_TYPES, render
from wacrm.inbound.routing import Route
from wacrm.inbound.schemas import (
    Contact,
    Message,
    Payload,
    Status,
    Value,
    find_phone_number_id,
    to_datetime,
)

STATUSES = frozenset({"sent", "delivered", "read", "played", "failed"})
MEDIA_JOB = "media.download"


class ProcessingError(Exception):
    """A payload that cannot be processed now (kept in the journal with this message)."""


class RouteSource(Protocol):
    async def get(self, conn: AsyncConnection[Any], phone_number_id: str) -> Route | None: ...


@dataclass
class Outcome:
    """What processing one payload did (for tests, logs and metrics)."""

    messages: int = 0
    statuses: int = 0
    media_jobs: list[dict[str, Any]] = field(default_factory=list)
    config_ids: set[int] = field(default_factory=set)


_NOTIFY = (
    "pg_notify('wacrm_events', json_build_object('agent_id', %(agent_id)s::bigint, 'kind', {kind},"
    " 'customer_id', {cid}, 'message_id', {mid}, 'order_id', {oid})::text)"
)
_CUSTOMER_BY = {
    "p": "(SELECT id FROM {customers} WHERE phone = %(c_phone)s)",
    "b": "(SELECT id FROM {customers} WHERE bsuid = %(c_bsuid)s)",
}


def _message_sql(by: str) -> str:
    return (
        """
        WITH ins AS (
          INSERT INTO {messages} (customer_id, message, direction, "timestamp", is_read, media_type,
            caption, wamid, wa_type, status, status_at, context_wamid, media_id, media_mime_type,
            media_sha256, media_size, media_filename, media_status, order_id, raw)
          SELECT cust.id, %(text)s, 'inbound', %(ts)s, false, %(media_type)s::media_type, %(caption)s,
            %(wamid)s, %(wa_type)s, 'received', %(ts)s, %(context)s, %(media_id)s, %(mime)s,
            %(sha256)s, %(size)s, %(filename)s, %(media_status)s,
            (SELECT id FROM {orders} WHERE source_wamid = %(wamid)s AND %(is_order)s), %(raw)s::jsonb
          FROM (SELECT """
        + _CUSTOMER_BY[by]
        + """ AS id) cust
          ON CONFLICT (wamid) DO NOTHING
          RETURNING id, customer_id, "timestamp", order_id
        ), cu AS (
          UPDATE {customers} c SET unread_count = c.unread_count + 1,
            last_message_at = greatest(c.last_message_at, ins."timestamp"),
            last_inbound_at = greatest(c.last_inbound_at, ins."timestamp"),
            last_message_id = CASE WHEN c.last_message_at IS NULL OR ins."timestamp" >= c.last_message_at
                                   THEN ins.id ELSE c.last_message_id END,
            updated_at = now()
          FROM ins WHERE c.id = ins.customer_id
        )
        SELECT ins.id, """
        + _NOTIFY.format(kind="'message'", cid="ins.customer_id", mid="ins.id", oid="ins.order_id")
        + " FROM ins"
    )


def _order_sql(by: str) -> str:
    return (
        """
        WITH o AS (
          INSERT INTO {orders} (customer_id, total_amount, notes, currency, source, source_wamid,
                                catalog_id, created_at, updated_at)
          SELECT """
        + _CUSTOMER_BY[by]
        + """, %(total)s, %(notes)s, %(currency)s, 'whatsapp_catalog', %(wamid)s, %(catalog_id)s,
                 %(ts)s, %(ts)s
          ON CONFLICT (source_wamid) WHERE source_wamid IS NOT NULL DO NOTHING
          RETURNING id, customer_id
        ), items AS (
          INSERT INTO {orders_items} (order_id, name, product_retailer_id, quantity, price)
          SELECT o.id, x.rid, x.rid, x.qty, x.price
          FROM o, unnest(%(rids)s::text[], %(qtys)s::int[], %(prices)s::numeric[]) AS x(rid, qty, price)
        ), h AS (
          INSERT INTO {orders_history} (order_id, from_status, to_status, note)
          SELECT o.id, NULL, 'pending', 'ordered from the WhatsApp catalog' FROM o
        )
        SELECT o.id, """
        + _NOTIFY.format(kind="'order'", cid="o.customer_id", mid="NULL::int", oid="o.id")
        + " FROM o"
    )


@lru_cache(maxsize=4096)
def agent_sql(tables: AgentTables) -> dict[str, str]:
    """The processing statements of one agent, composed once (no catalog lookups per message)."""
    q = {
        "message_p": _message_sql("p"),
        "message_b": _message_sql("b"),
        "order_p": _order_sql("p"),
        "order_b": _order_sql("b"),
        "reaction": """
            WITH upd AS (
              UPDATE {messages} SET reaction = nullif(%(emoji)s, '') WHERE wamid = %(target)s
              RETURNING id, customer_id)
            SELECT upd.id, """
        + _NOTIFY.format(kind="'message'", cid="upd.customer_id", mid="upd.id", oid="NULL::int")
        + " FROM upd",
        "status": """
            WITH upd AS (
              UPDATE {messages} SET status = %(status)s, status_at = %(ts)s,
                error_code = CASE WHEN %(status)s = 'failed' THEN %(code)s::int ELSE error_code END,
                error_title = CASE WHEN %(status)s = 'failed' THEN %(title)s ELSE error_title END,
                error_details = CASE WHEN %(status)s = 'failed' THEN %(details)s ELSE error_details END
              WHERE wamid = %(wamid)s AND wacrm_status_rank(%(status)s) > wacrm_status_rank(status)
              RETURNING id, customer_id
            ), early AS (
              INSERT INTO inbound_early_statuses (agent_id, wamid, status, status_at, error_code,
                                                  error_title, error_details)
              SELECT %(agent_id)s, %(wamid)s, %(status)s, %(ts)s, %(code)s, %(title)s, %(details)s
              WHERE NOT EXISTS (SELECT 1 FROM {messages} WHERE wamid = %(wamid)s)
              ON CONFLICT DO NOTHING
            )
            SELECT upd.id, """
        + _NOTIFY.format(kind="'status'", cid="upd.customer_id", mid="upd.id", oid="NULL::int")
        + " FROM upd",
    }
    return {k: tables.query(v).as_string(None) for k, v in q.items()}


def _contact_for(msg: Message, contacts: list[Contact]) -> Contact | None:
    for c in contacts:
        if (msg.from_user_id and c.user_id == msg.from_user_id) or (
            msg.from_ and c.wa_id == msg.from_
        ):
            return c
    return contacts[0] if len(contacts) == 1 else None


def _order_params(order: dict[str, Any]) -> dict[str, Any]:
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
    cur = str(currency).upper()[:3] if currency else "USD"
    return {
        "rids": rids,
        "qtys": qtys,
        "prices": prices,
        "currency": cur,
        "total": sum((q * p for q, p in zip(qtys, prices, strict=True)), Decimal(0)),
        "catalog_id": order.get("catalog_id"),
        "notes": order.get("text"),
    }


async def _process_message(
    conn: AsyncConnection[Any],
    route: Route,
    msg: Message,
    raw: dict[str, Any],
    contacts: list[Contact],
    out: Outcome,
) -> None:
    assert route.tables is not None and route.agent_id is not None
    tables, q = route.tables, agent_sql(route.tables)
    contact = _contact_for(msg, contacts)
    wa_id = msg.from_ or (contact.wa_id if contact else None)
    bsuid = msg.from_user_id or (contact.user_id if contact else None)
    profile = contact.profile if contact and contact.profile else None
    ts = to_datetime(msg.timestamp)
    kind = msg.type or "unknown"
    system: dict[str, Any] = raw["system"] if isinstance(raw.get("system"), dict) else {}
    if kind == "system" and system.get("type") in ("user_changed_number", "user_changed_user_id"):
        new_wa = system.get("new_wa_id") or (
            system.get("wa_id") if system.get("type") == "user_changed_number" else None
        )
        new_b = system.get("new_user_id") or (
            system.get("user_id") if system.get("type") == "user_changed_user_id" else None
        )
        cid = await customers.change_identity(
            conn, tables=tables, old_wa_id=wa_id, old_bsuid=bsuid, new_wa_id=new_wa, new_bsuid=new_b
        )
        if cid is not None:
            if new_b and system.get("type") == "user_changed_user_id":
                bsuid = new_b
            elif new_wa:
                wa_id, bsuid = new_wa, new_b
    if not wa_id and not bsuid:
        raise ProcessingError(f"message {msg.id} has neither a phone number nor a user id")
    await customers.resolve_customer(
        conn,
        tables=tables,
        wa_id=wa_id,
        bsuid=bsuid,
        name=profile.name if profile else None,
        username=profile.username if profile else None,
        parent_bsuid=(contact.parent_user_id if contact else None) or msg.parent_user_id,
        fetch=False,
    )
    by = "b" if bsuid else "p"
    ident = {"c_phone": customers.e164(wa_id), "c_bsuid": bsuid, "agent_id": route.agent_id}
    if kind == "reaction":
        reaction: dict[str, Any] = raw["reaction"] if isinstance(raw.get("reaction"), dict) else {}
        await conn.execute(
            q["reaction"],
            {**ident, "emoji": reaction.get("emoji") or "", "target": reaction.get("message_id")},
            prepare=True,
        )
        out.messages += 1
        return
    if not msg.id:
        raise ProcessingError("a message without an id cannot be stored exactly once")
    is_order = kind == "order" and isinstance(raw.get("order"), dict)
    if is_order:
        await conn.execute(
            q["order_" + by],
            {**ident, **_order_params(raw["order"]), "wamid": msg.id, "ts": ts},
            prepare=True,
        )
    fields = message_fields(msg, raw, ts)
    await conn.execute(
        q["message_" + by],
        {**ident, **fields, "is_order": is_order, "raw": orjson.dumps(raw).decode()},
        prepare=True,
    )
    if fields["media_status"] == "pending":
        out.media_jobs.append(media_job(route, fields))
    out.messages += 1


def message_fields(msg: Message, raw: dict[str, Any], ts: Any) -> dict[str, Any]:
    """The columns of an inbound message row, shared by the per-webhook and the set-based paths."""
    kind = msg.type or "unknown"
    r = render(raw)
    media = kind in MEDIA_TYPES and r.media_id is not None
    return {
        "text": r.text,
        "ts": ts,
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


def media_job(route: Route, fields: dict[str, Any]) -> dict[str, Any]:
    """The `media.download` job of a stored message with media (`message_fields`)."""
    return {
        "agent_id": route.agent_id,
        "wamid": fields["wamid"],
        "media_id": fields["media_id"],
        "sha256": fields["sha256"],
        "phone_number_id": route.phone_number_id,
    }


async def _process_status(
    conn: AsyncConnection[Any], route: Route, st: Status, out: Outcome
) -> None:
    assert route.tables is not None
    if not st.id or st.status not in STATUSES:
        return
    err = st.errors[0] if st.errors else None
    await conn.execute(
        agent_sql(route.tables)["status"],
        {
            "agent_id": route.agent_id,
            "wamid": st.id,
            "status": st.status,
            "ts": to_datetime(st.timestamp),
            "code": err.code if err else None,
            "title": err.title if err else None,
            "details": err.details if err else None,
        },
        prepare=True,
    )
    out.statuses += 1


async def _signing_secret(conn: AsyncConnection[Any], data: Any, routes: RouteSource) -> str | None:
    """The app secret the webhook's signature was checked with (None: the WHATSAPP_APP_SECRET fallback).

    The endpoint verifies a body with the secret of its first phone_number_id; every change in it
    must belong to a number with that same secret, or one tenant could write into another's tables.
    """
    pnid = find_phone_number_id(data)
    route = await routes.get(conn, pnid) if pnid else None
    return route.app_secret if route is not None else None


def validate_payload(data: Any) -> Payload:
    """The payload's model; ProcessingError when it is not a WhatsApp webhook."""
    if not isinstance(data, dict) or data.get("object") != "whatsapp_business_account":
        raise ProcessingError("unknown payload shape: 'object' is not 'whatsapp_business_account'")
    try:
        return Payload.model_validate(data)
    except ValidationError as exc:
        raise ProcessingError(f"unknown payload shape: {exc.errors()[0]['msg']}") from exc


async def payload_changes(
    conn: AsyncConnection[Any], data: Any, payload: Payload, routes: RouteSource
) -> list[tuple[Route, Value, dict[str, Any]]]:
    """The message changes of a payload with their routes and raw values (ProcessingError if one is unusable)."""
    signer = await _signing_secret(conn, data, routes)
    changes: list[tuple[Route, Value, dict[str, Any]]] = []
    for e_i, entry in enumerate(payload.entry or []):
        for c_i, change in enumerate(entry.changes or []):
            value = change.value
            if change.field not in (None, "messages") or value is None:
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
            changes.append((route, value, data["entry"][e_i]["changes"][c_i]["value"]))
    return changes


async def process_payload(
    conn: AsyncConnection[Any], *, data: Any, routes: RouteSource, enqueue_jobs: bool = True
) -> Outcome:
    """Process a decoded payload inside the caller's transaction; ProcessingError if it cannot be.

    With `enqueue_jobs=False` the media downloads are left in `Outcome.media_jobs` for the caller
    to queue (`enqueue_media_jobs`, once per batch: each enqueue reads its ids back, a round trip).
    """
    payload = validate_payload(data)
    out = Outcome()
    for route, value, raw_value in await payload_changes(conn, data, payload, routes):
        out.config_ids.add(route.config_id)
        # the validated messages, in the same order as the raw ones (kept as JSON, rendered)
        for msg, raw_msg in zip(value.messages or [], raw_value.get("messages") or [], strict=True):
            await _process_message(conn, route, msg, raw_msg, value.contacts or [], out)
        for st in value.statuses or []:
            await _process_status(conn, route, st, out)
    if enqueue_jobs:
        await enqueue_media_jobs(conn, out.media_jobs)
    return out


async def enqueue_media_jobs(conn: AsyncConnection[Any], media_jobs: list[dict[str, Any]]) -> None:
    """Queue the media downloads of one or many payloads with one statement."""
    if not media_jobs:
        return
    from pgqueuer.db import PsycopgDriver
    from pgqueuer.queries import Queries

    n = len(media_jobs)
    await Queries(PsycopgDriver(conn)).enqueue(
        [MEDIA_JOB] * n, [orjson.dumps(job) for job in media_jobs], [0] * n
    )
