"""Queueing outbound messages (row + scheduled send in one transaction), the 24 h window, read receipts, retry."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from wacrm.agents.tables import AgentTables
from wacrm.i18n.labels import media_kind_text
from wacrm.i18n.text import Text
from wacrm.jobs import enqueue
from wacrm.outbound import marketing, template_text
from wacrm.outbound.refusals import HEADER_NEEDS, OutboundError, WindowClosedError
from wacrm.outbound.schedule import schedule_send
from wacrm.outbound.schemas import (
    LocationContent,
    MediaContent,
    OutboundContent,
    ReactionContent,
    TemplateContent,
    TextContent,
)
from wacrm.realtime import events

WINDOW = timedelta(hours=24)
READ_JOB = "outbound.read_receipt"


def window_closes_at(last_inbound_at: datetime | None) -> datetime | None:
    return last_inbound_at + WINDOW if last_inbound_at else None


def _describe(
    content: Any, media: dict[str, Any] | None, template_body: str = ""
) -> tuple[str, str]:
    """(human-readable text for the messages row, media_type)."""
    if isinstance(content, TextContent):
        return content.body, "none"
    if isinstance(content, MediaContent):
        return (
            content.caption or f"[{content.type}: {media['filename'] if media else ''}]",
            content.type,
        )
    if isinstance(content, LocationContent):
        label = ", ".join(x for x in (content.name, content.address) if x)
        return f"📍 {label or f'{content.latitude}, {content.longitude}'}", "location"
    if isinstance(content, ReactionContent):
        return content.emoji or "(reaction removed)", "reaction"
    assert isinstance(content, TemplateContent)
    if template_body:  # what the customer reads, parameters filled in
        return template_text.fill(template_body, content.body_params), "template"
    params = f": {', '.join(content.body_params)}" if content.body_params else ""
    return f"[template {content.name} ({content.language}){params}]", "template"


async def _template_body(
    conn: AsyncConnection[Any], agent_id: int, content: TemplateContent
) -> str:
    """The synced template's body text; refuses a send that leaves one of its parameters out."""
    found = await template_text.find(
        conn, agent_id=agent_id, name=content.name, language=content.language
    )
    if found is None:
        return ""  # not synced yet: Meta checks the parameters when it gets the send
    _check_header_media(content, found["components"])
    body = template_text.body_text(found["components"])
    labels = template_text.param_labels(body)
    if len(content.body_params) < len(labels):
        missing = len(content.body_params) + 1
        raise OutboundError(
            Text(
                "the template {name} ({language}) needs {count} parameter(s): parameter {missing}"
                " (“{label}”) is missing",
                name=content.name,
                language=content.language,
                count=len(labels),
                missing=missing,
                label=labels[missing - 1],
            ),
            422,
        )
    return body


def _check_header_media(content: TemplateContent, components: list[dict[str, Any]]) -> None:
    """A media header needs its image / video / document; other templates take none."""
    from wacrm.wa_templates.rules import header_media

    wanted, given = header_media(components), content.header_media
    if wanted and (given is None or given.type != wanted):
        needed = HEADER_NEEDS.get(wanted, HEADER_NEEDS["document"])
        raise OutboundError(Text(needed, name=content.name, language=content.language), 422)
    if given is not None and not wanted:
        raise OutboundError(
            Text(
                "the template {name} ({language}) has no media header",
                name=content.name,
                language=content.language,
            ),
            422,
        )


def payload_of(content: OutboundContent) -> dict[str, Any]:
    """The stored payload of a message (a template without a media header: no header_media)."""
    payload = content.model_dump(mode="json")
    if payload.get("header_media", 0) is None:
        del payload["header_media"]
    return payload


describe = _describe  # public: broadcasts write the rows of many template messages set-based


async def _wamid_of(
    conn: AsyncConnection[Any], tables: AgentTables, customer_id: int, message_id: int
) -> str:
    cur = await conn.execute(
        tables.query("SELECT wamid FROM {messages} WHERE id = %s AND customer_id = %s"),
        (message_id, customer_id),
    )
    row = await cur.fetchone()
    if row is None:
        raise OutboundError(Text("message {id} is not in this conversation", id=message_id), 422)
    if not row["wamid"]:
        raise OutboundError(
            Text(
                "message {id} has no WhatsApp id yet (not sent), so it cannot be referenced",
                id=message_id,
            ),
            422,
        )
    return str(row["wamid"])


async def queue_message(
    conn: AsyncConnection[Any],
    *,
    tables: AgentTables,
    agent_id: int,
    customer_id: int,
    content: OutboundContent,
    sent_by: UUID | None,
    bulk: bool = False,
) -> dict[str, Any]:
    """Insert the outbound message ('queued') and schedule its send in one transaction; return the row.

    `bulk`: part of a broadcast; sent at the number's rate after the agents' replies (`schedule`).
    Refuses free-form content outside the 24-hour window (WindowClosedError); templates always pass.
    """
    async with conn.transaction():
        await _lock_open_customer(conn, tables, agent_id, customer_id, content, bulk=bulk)
        media = await _uploaded_media(conn, agent_id, content)
        message = await _insert_message(
            conn, tables, agent_id, customer_id, content, media, sent_by
        )
        if isinstance(content, ReactionContent):
            await conn.execute(
                tables.query("UPDATE {messages} SET agent_reaction = %s WHERE id = %s"),
                (content.emoji or None, content.message_id),
            )
        await conn.execute(
            tables.query(
                "UPDATE {customers} SET last_message_at = now(), last_message_id = %s, updated_at = now() WHERE id = %s"
            ),
            (message["id"], customer_id),
        )
        await schedule_send(conn, tables=tables, message_id=message["id"], bulk=bulk)
        await events.notify(
            conn,
            agent_id=agent_id,
            kind="message",
            customer_id=customer_id,
            message_id=message["id"],
        )
    return dict(message)


async def _lock_open_customer(  # noqa: PLR0913 - the send's parts
    conn: AsyncConnection[Any],
    tables: AgentTables,
    agent_id: int,
    customer_id: int,
    content: OutboundContent,
    *,
    bulk: bool,
) -> None:
    """Lock the customer; OutboundError 404 if there is none or a marketing send they opted out
    of, WindowClosedError for free-form content outside the 24-hour window."""
    cur = await conn.execute(
        tables.query(
            "SELECT id, phone, bsuid, last_inbound_at, opted_in, opt_in_changed_at,"
            " opt_in_source FROM {customers} WHERE id = %s FOR UPDATE"
        ),
        (customer_id,),
    )
    customer = await cur.fetchone()
    if customer is None:
        raise OutboundError(Text("no customer {id}", id=customer_id), 404)
    try:
        await marketing.refuse_if_opted_out(
            conn, agent_id=agent_id, customer=customer, content=content, bulk=bulk
        )
    except marketing.MarketingOptOutError as exc:
        raise OutboundError(exc.text, exc.status) from None
    if not isinstance(content, TemplateContent):
        closes = window_closes_at(customer["last_inbound_at"])
        clock = await (await conn.execute("SELECT now() AS now")).fetchone()
        if closes is None or clock is None or closes <= clock["now"]:
            raise WindowClosedError(closes)


async def _uploaded_media(
    conn: AsyncConnection[Any], agent_id: int, content: OutboundContent
) -> dict[str, Any] | None:
    """The uploaded file a media message sends (None for other content)."""
    if not isinstance(content, MediaContent):
        return None
    cur = await conn.execute(
        "SELECT id, kind, filename, mime_type, size FROM outbound_media WHERE id = %s AND agent_id = %s",
        (content.media_id, agent_id),
    )
    media = await cur.fetchone()
    if media is None:
        raise OutboundError(
            Text("no uploaded file {id}: upload it with POST /api/v1/media", id=content.media_id),
            404,
        )
    if media["kind"] != content.type:
        raise OutboundError(
            Text(
                "file {id} was uploaded as {kind}, not {wanted}",
                id=content.media_id,
                kind=media_kind_text(media["kind"]),
                wanted=media_kind_text(content.type),
            )
        )
    return dict(media)


async def _insert_message(
    conn: AsyncConnection[Any],
    tables: AgentTables,
    agent_id: int,
    customer_id: int,
    content: OutboundContent,
    media: dict[str, Any] | None,
    sent_by: UUID | None,
) -> dict[str, Any]:
    """The message row, 'queued' (with the wamids it replies or reacts to)."""
    context_wamid = None
    reply_to = getattr(content, "reply_to", None)
    if reply_to is not None:
        context_wamid = await _wamid_of(conn, tables, customer_id, reply_to)
    payload = payload_of(content)
    if isinstance(content, ReactionContent):
        reacted_wamid = await _wamid_of(conn, tables, customer_id, content.message_id)
        if reacted_wamid:
            payload["message_wamid"] = reacted_wamid
    template_body = ""
    if isinstance(content, TemplateContent):
        template_body = await _template_body(conn, agent_id, content)
    text, media_type = _describe(content, media, template_body)
    cur = await conn.execute(
        tables.query(_INSERT_MESSAGE),
        {
            "customer_id": customer_id,
            "text": text,
            "media_type": media_type,
            "caption": getattr(content, "caption", None),
            "payload": json.dumps(payload),
            "sent_by": sent_by,
            "context": context_wamid,
            "reaction": content.emoji if isinstance(content, ReactionContent) else None,
            "wa_type": content.type,
            "mime": media["mime_type"] if media else None,
            "filename": media["filename"] if media else None,
            "size": media["size"] if media else None,
        },
    )
    message = await cur.fetchone()
    assert message is not None
    return dict(message)


_INSERT_MESSAGE = """
INSERT INTO {messages} (customer_id, message, direction, media_type, caption, status,
  status_at, payload, sent_by, context_wamid, reaction, wa_type, media_mime_type,
  media_filename, media_size, is_read, "timestamp")
VALUES (%(customer_id)s, %(text)s, 'outbound', %(media_type)s, %(caption)s, 'queued', now(),
  %(payload)s, %(sent_by)s, %(context)s, %(reaction)s, %(wa_type)s, %(mime)s, %(filename)s,
  %(size)s, true, now())
RETURNING *"""


async def retry_message(
    conn: AsyncConnection[Any], *, tables: AgentTables, message_id: int
) -> dict[str, Any]:
    """Queue a failed outbound message again (the window rule applies again to free-form content)."""
    async with conn.transaction():
        cur = await conn.execute(
            tables.query(
                "SELECT * FROM {messages} WHERE id = %s AND direction = 'outbound' FOR UPDATE"
            ),
            (message_id,),
        )
        message = await cur.fetchone()
        if message is None:
            raise OutboundError(Text("no outbound message {id}", id=message_id), 404)
        if message["status"] != "failed":
            raise OutboundError(
                Text(
                    "message {id} is {status}, only failed messages can be retried",
                    id=message_id,
                    status=message["status"],
                ),
                409,
            )
        if message["wa_type"] != "template":
            cur = await conn.execute(
                tables.query("SELECT last_inbound_at, now() AS now FROM {customers} WHERE id = %s"),
                (message["customer_id"],),
            )
            customer = await cur.fetchone()
            closes = window_closes_at(customer["last_inbound_at"]) if customer else None
            if closes is None or customer is None or closes <= customer["now"]:
                raise WindowClosedError(closes)
        cur = await conn.execute(
            tables.query(
                """UPDATE {messages} SET status = 'queued', status_at = now(), error_code = NULL, error_title = NULL,
                     error_details = NULL WHERE id = %s RETURNING *"""
            ),
            (message_id,),
        )
        updated = await cur.fetchone()
        cur = await conn.execute(
            "SELECT bulk FROM outbound_sends WHERE agent_id = %s AND message_id = %s",
            (tables.agent_id, message_id),
        )
        sent_as = await cur.fetchone()  # a retried broadcast message stays in the bulk schedule
        bulk = bool(sent_as and sent_as["bulk"])
        await schedule_send(conn, tables=tables, message_id=message_id, bulk=bulk)
        await events.notify(
            conn,
            agent_id=tables.agent_id,
            kind="status",
            customer_id=message["customer_id"],
            message_id=message_id,
        )
    assert updated is not None
    return dict(updated)


async def queue_read_receipt(
    conn: AsyncConnection[Any], *, tables: AgentTables, agent_id: int, customer_id: int
) -> int:
    """Mark the customer's inbound messages read here; send Meta one read receipt for the newest, once.

    Returns how many messages were marked. Nothing is queued when nothing was unread.
    """
    async with conn.transaction():
        cur = await conn.execute(
            tables.query(
                """UPDATE {messages} SET is_read = true
                   WHERE customer_id = %s AND direction = 'inbound' AND NOT coalesce(is_read, false)
                   RETURNING id, wamid, "timestamp" """
            ),
            (customer_id,),
        )
        marked = await cur.fetchall()
        await conn.execute(
            tables.query("UPDATE {customers} SET unread_count = 0 WHERE id = %s"), (customer_id,)
        )
        newest = max(
            (m for m in marked if m["wamid"]), key=lambda m: (m["timestamp"], m["id"]), default=None
        )
        if newest is not None:
            await enqueue(conn, READ_JOB, {"agent_id": agent_id, "wamid": newest["wamid"]})
    return len(marked)
