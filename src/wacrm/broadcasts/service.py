"""Broadcasts: create (template checked), counters and failures, cancel; queueing in chunks."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from wacrm.agents.tables import AgentTables
from wacrm.broadcasts.audience import Audience
from wacrm.broadcasts.audience import count as audience_count
from wacrm.config import GraphApi
from wacrm.errors import AppError
from wacrm.i18n.labels import N_
from wacrm.i18n.text import Text
from wacrm.numbers import service as numbers
from wacrm.outbound import errors as send_errors
from wacrm.outbound import templates
from wacrm.outbound.schedule import schedule_bulk_sends
from wacrm.outbound.schemas import TemplateContent
from wacrm.outbound.service import describe, payload_of
from wacrm.realtime.events import notify_sql
from wacrm.wa_templates.rules import header_media as media_kind

CHUNK = 200  # recipients queued per transaction (cancel waits at most one chunk)
FIELDS = re.compile(r"\{(name|first_name|phone)\}")


HEADER_NEEDS = {
    "image": N_(
        "this template has an image header: give its image as an https:// link or a media id"
    ),
    "video": N_(
        "this template has a video header: give its video as an https:// link or a media id"
    ),
    "document": N_(
        "this template has a document header: give its document as an https:// link or a media id"
    ),
}


class BroadcastError(AppError):
    """A broadcast that cannot be made or cancelled (422 unless said); `field` is the input at fault."""

    status = 422


def personalize(value: str, customer: dict[str, Any]) -> str:
    """A parameter with the customer's {name}, {first_name} or {phone} filled in."""
    name = (customer.get("name") or "").strip()
    fields = {
        "name": name or "there",
        "first_name": (name.split() or ["there"])[0],
        "phone": customer.get("phone") or "",
    }
    return FIELDS.sub(lambda m: fields[m.group(1)], value).strip() or "-"


def body_placeholders(template: dict[str, Any]) -> int:
    for comp in template.get("components") or []:
        if str(comp.get("type", "")).upper() == "BODY":
            return len(set(re.findall(r"\{\{\s*(\w+)\s*\}\}", comp.get("text", ""))))
    return 0


def _needs_header(template: dict[str, Any]) -> bool:
    """A text header with a variable (a broadcast cannot fill it in yet)."""
    for comp in template.get("components") or []:
        header = str(comp.get("type", "")).upper() == "HEADER"
        if header and (
            str(comp.get("format", "TEXT")).upper() == "TEXT" and "{{" in comp.get("text", "")
        ):
            return True
    return False


def header_media_of(template: dict[str, Any], given: str) -> dict[str, Any] | None:
    """The media of a template's IMAGE/VIDEO/DOCUMENT header from an https link or a media id."""
    kind, given = template.get("header_media"), given.strip()
    if not kind:
        if given:
            raise BroadcastError(Text("this template has no media header"), field="header_media")
        return None
    if given.startswith("https://") and len(given) <= 2000 and " " not in given:
        return {"type": kind, "link": given}
    if given.isdigit() and len(given) <= 64:
        return {"type": kind, "id": given}
    raise BroadcastError(
        Text(HEADER_NEEDS.get(kind, HEADER_NEEDS["document"])), field="header_media"
    )


async def approved_templates(
    conn: AsyncConnection[Any], *, agent_id: int, graph: GraphApi
) -> list[dict[str, Any]]:
    """The number's approved templates a broadcast can send (fetched from WhatsApp if none cached)."""
    config = await numbers.get_by_agent_id(conn, agent_id=agent_id)
    if config is None:
        raise BroadcastError(Text("this workspace has no WhatsApp number: connect one first"), 409)
    found = await templates.cached(conn, config_id=config["id"])
    if not found:
        try:
            found = await templates.refresh(conn, config=config, graph=graph)
        except send_errors.SendError as exc:
            raise BroadcastError(
                Text("WhatsApp did not list the templates: {why}", why=exc.explanation), 502
            ) from None
    out = []
    for t in found:
        if str(t.get("status", "")).upper() == "APPROVED" and not _needs_header(t):
            media = media_kind(t.get("components") or [])
            out.append({**t, "params": body_placeholders(t), "header_media": media})
    return out


async def create(  # noqa: PLR0913 - the broadcast's fields
    conn: AsyncConnection[Any],
    *,
    tables: AgentTables,
    name: str,
    template_name: str,
    language: str,
    params: list[str],
    audience: Audience,
    scheduled_at: datetime | None,
    created_by: UUID | None,
    graph: GraphApi,
    header_media: str = "",
) -> dict[str, Any]:
    """Check the template and its parameters, then schedule the broadcast (now or later);
    `graph` (`settings.graph_api`) lists the number's templates when none are cached."""
    if not name.strip():
        raise BroadcastError(Text("give the broadcast a name"), field="name")
    usable = await approved_templates(conn, agent_id=tables.agent_id, graph=graph)
    template = next(
        (t for t in usable if t["name"] == template_name and t["language"] == language), None
    )
    if template is None:
        raise BroadcastError(
            Text(
                "{name} ({language}) is not an approved template of this number",
                name=template_name,
                language=language,
            ),
            field="template",
        )
    params = [p.strip() for p in params]
    if len(params) != template["params"] or any(not p for p in params):
        raise BroadcastError(
            Text(
                "{name} needs {count} parameter(s), each filled in",
                name=template_name,
                count=template["params"],
            ),
            field="params",
        )
    media = header_media_of(template, header_media)
    if await audience_count(conn, tables=tables, audience=audience) == 0:
        raise BroadcastError(Text("no customer matches this audience"), field="audience")
    cur = await conn.execute(
        """INSERT INTO broadcasts (agent_id, name, template_name, template_language, params, audience,
             scheduled_at, created_by, header_media)
           VALUES (%s, %s, %s, %s, %s, %s, coalesce(%s, now()), %s, %s) RETURNING *""",
        (
            tables.agent_id,
            name.strip()[:120],
            template_name,
            language,
            json.dumps(params),
            audience.model_dump_json(),
            scheduled_at,
            created_by,
            json.dumps(media) if media else None,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return dict(row)


_COUNTERS = """
SELECT count(*) AS recipients,
  count(r.message_id) AS queued,
  count(*) FILTER (WHERE r.skipped IS NOT NULL) AS skipped,
  count(*) FILTER (WHERE m.status IN ('queued', 'sending')) AS waiting,
  count(*) FILTER (WHERE m.status IN ('sent', 'delivered', 'read', 'played')) AS sent,
  count(*) FILTER (WHERE m.status IN ('delivered', 'read', 'played')) AS delivered,
  count(*) FILTER (WHERE m.status IN ('read', 'played')) AS read,
  count(*) FILTER (WHERE m.status = 'failed') AS failed,
  count(*) FILTER (WHERE m.status = 'cancelled') AS cancelled,
  count(*) FILTER (WHERE m.id IS NOT NULL AND EXISTS (
    SELECT FROM {messages} i WHERE i.customer_id = r.customer_id AND i.direction = 'inbound'
      AND i."timestamp" >= date_trunc('second', m."timestamp"))) AS replied
FROM broadcast_recipients r LEFT JOIN {messages} m ON m.id = r.message_id
WHERE r.broadcast_id = %s
"""

_FAILURES = """
SELECT m.error_code, max(m.error_title) AS title, count(*) AS n
FROM broadcast_recipients r JOIN {messages} m ON m.id = r.message_id
WHERE r.broadcast_id = %s AND m.status = 'failed'
GROUP BY m.error_code ORDER BY n DESC
"""


async def get(
    conn: AsyncConnection[Any], *, tables: AgentTables, broadcast_id: int
) -> dict[str, Any] | None:
    """The broadcast with its counters and its failures grouped with a human explanation."""
    cur = await conn.execute(
        "SELECT * FROM broadcasts WHERE id = %s AND agent_id = %s", (broadcast_id, tables.agent_id)
    )
    row = await cur.fetchone()
    if row is None:
        return None
    out = dict(row)
    cur = await conn.execute(tables.query(_COUNTERS), (broadcast_id,))
    out["counters"] = dict(await cur.fetchone() or {})
    cur = await conn.execute(tables.query(_FAILURES), (broadcast_id,))
    out["failures"] = [
        {
            **dict(f),
            "explanation": send_errors.explain(f["error_code"]) if f["error_code"] else f["title"],
        }
        for f in await cur.fetchall()
    ]
    return out


async def list_broadcasts(
    conn: AsyncConnection[Any], *, agent_id: int, limit: int = 50
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT * FROM broadcasts WHERE agent_id = %s ORDER BY id DESC LIMIT %s", (agent_id, limit)
    )
    return [dict(r) for r in await cur.fetchall()]


_CANCEL_SENDS = """
WITH stopped AS (
  UPDATE outbound_sends s SET state = 'done', updated_at = now()
  FROM broadcast_recipients r
  WHERE r.broadcast_id = %(id)s AND s.agent_id = %(agent)s AND s.message_id = r.message_id
    AND s.state IN ('scheduled', 'queued')
  RETURNING s.message_id
)
UPDATE {messages} m SET status = 'cancelled', status_at = now()
FROM stopped WHERE m.id = stopped.message_id AND m.status = 'queued'
"""


async def cancel(conn: AsyncConnection[Any], *, tables: AgentTables, broadcast_id: int) -> int:
    """Stop a broadcast: nothing more is queued and its unsent messages are not sent; how many stopped."""
    async with conn.transaction():
        cur = await conn.execute(
            """UPDATE broadcasts SET state = 'cancelled', cancelled_at = now()
               WHERE id = %s AND agent_id = %s AND state IN ('scheduled', 'running', 'sent')
               RETURNING state""",
            (broadcast_id, tables.agent_id),
        )
        if await cur.fetchone() is None:
            cur = await conn.execute(
                "SELECT state FROM broadcasts WHERE id = %s AND agent_id = %s",
                (broadcast_id, tables.agent_id),
            )
            found = await cur.fetchone()
            if found is None:
                raise BroadcastError(Text("no broadcast {id}", id=broadcast_id), 404)
            raise BroadcastError(
                Text("this broadcast is already {state}", state=found["state"]), 409
            )
        cur = await conn.execute(
            tables.query(_CANCEL_SENDS), {"id": broadcast_id, "agent": tables.agent_id}
        )
        return cur.rowcount


_PENDING = """
SELECT r.customer_id, c.name, c.phone, c.opted_in FROM broadcast_recipients r
JOIN {customers} c ON c.id = r.customer_id
WHERE r.broadcast_id = %s AND r.queued_at IS NULL ORDER BY r.customer_id LIMIT %s
FOR UPDATE OF c
"""

# One chunk's messages in one statement each (the rows queue_message writes, set-based).
_INSERT_MESSAGES = """
INSERT INTO {messages} (customer_id, message, direction, media_type, status, status_at, payload,
  sent_by, wa_type, is_read, "timestamp")
SELECT c, t, 'outbound', 'template', 'queued', now(), p, %(sent_by)s, 'template', true, now()
FROM unnest(%(customers)s::int[], %(texts)s::text[], %(payloads)s::jsonb[]) WITH ORDINALITY AS u(c, t, p, o)
ORDER BY o
RETURNING id, customer_id
"""
_TOUCH_CUSTOMERS = """
UPDATE {customers} c SET last_message_at = now(), last_message_id = u.m, updated_at = now()
FROM unnest(%(customers)s::int[], %(ids)s::int[]) AS u(c, m) WHERE c.id = u.c
"""
_MARK_RECIPIENTS = """
UPDATE broadcast_recipients r SET message_id = u.m, skipped = u.s, queued_at = now()
FROM unnest(%(customers)s::int[], %(ids)s::int[], %(skipped)s::text[]) AS u(c, m, s)
WHERE r.broadcast_id = %(broadcast)s AND r.customer_id = u.c
"""
_NOTIFY = (
    "SELECT "
    + notify_sql(agent_id="%(agent)s", kind="'message'", customer_id="c", message_id="m")
    + " FROM unnest(%(customers)s::int[], %(ids)s::int[]) AS u(c, m)"
)


async def queue_chunk(
    conn: AsyncConnection[Any], *, tables: AgentTables, broadcast: dict[str, Any]
) -> int:
    """Queue the next recipients' messages (bulk lane) in one transaction, set-based; 0 when none
    are left or the broadcast is no longer running (cancelled). The broadcast's row is locked
    exclusively: a second job of the same broadcast waits and reads what this one queued."""
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT state FROM broadcasts WHERE id = %s FOR NO KEY UPDATE", (broadcast["id"],)
        )
        state = await cur.fetchone()
        if state is None or state["state"] != "running":
            return 0
        cur = await conn.execute(tables.query(_PENDING), (broadcast["id"], CHUNK))
        pending = await cur.fetchall()
        sending = [c for c in pending if c["opted_in"] is not False]
        contents = [
            TemplateContent(
                name=broadcast["template_name"],
                language=broadcast["template_language"],
                body_params=[personalize(p, c) for p in broadcast["params"]],
                header_media=broadcast.get("header_media"),
            )
            for c in sending
        ]
        made: dict[int, int] = {}
        if sending:
            cur = await conn.execute(
                tables.query(_INSERT_MESSAGES),
                {
                    "customers": [c["customer_id"] for c in sending],
                    "texts": [describe(content, None)[0] for content in contents],
                    "payloads": [
                        json.dumps({**payload_of(content), "automatic": "broadcast"})
                        for content in contents
                    ],
                    "sent_by": broadcast["created_by"],
                },
            )
            made = {r["customer_id"]: r["id"] for r in await cur.fetchall()}
            ids = [made[c["customer_id"]] for c in sending]
            customers = [c["customer_id"] for c in sending]
            await conn.execute(tables.query(_TOUCH_CUSTOMERS), {"customers": customers, "ids": ids})
            await schedule_bulk_sends(conn, tables=tables, message_ids=ids)
            await conn.execute(
                _NOTIFY, {"agent": tables.agent_id, "customers": customers, "ids": ids}
            )
        await conn.execute(
            _MARK_RECIPIENTS,
            {
                "broadcast": broadcast["id"],
                "customers": [c["customer_id"] for c in pending],
                "ids": [made.get(c["customer_id"]) for c in pending],
                "skipped": [None if c["customer_id"] in made else "opted out" for c in pending],
            },
        )
        return len(pending)
