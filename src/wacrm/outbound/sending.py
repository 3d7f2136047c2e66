"""One send, step by step: this process's pace per number, the client call for each kind, and the
record of its outcome (its claim: `wacrm.outbound.claim`)."""

from __future__ import annotations

import asyncio
import time
import weakref
from datetime import timedelta
from typing import Any

from psycopg import AsyncConnection

from wacrm.agents.tables import AgentTables
from wacrm.jobs import context
from wacrm.outbound import errors
from wacrm.realtime import events as live

PACE = 0.98  # a process never sends for one number faster than this share of its limit
LATE_SHARE = 0.9  # a send that left late may shorten the next gap to this share of it


class _NumberPacer:
    """Per number: the planned time of this process's next send, and a lock so sends leave in turn."""

    def __init__(self) -> None:
        self.next: dict[str, float] = {}  # phone_number_id -> monotonic time of its next send
        self.locks: dict[str, asyncio.Lock] = {}


# one pacer per event loop: an asyncio.Lock belongs to the loop that first waited on it
_pacers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _NumberPacer] = (
    weakref.WeakKeyDictionary()
)


async def pace(phone_id: str, per_second: int | None) -> None:
    """Space this process's sends of one number by 1 / (98% of its limit).

    The shared bucket gives each send a slot at 96% of the limit, but a send happens when its
    timer fires: after an event-loop stall the sends whose slots passed would go out together,
    and Meta would count the burst and the next on-time sends in one second (130429).
    Sends leave in turn (a lock per number), each at its planned time, planned one gap after
    the previous plan: a timer that fires a little late does not slow the rate (the next gap
    shrinks, to 90% of a gap at the least), and one that fires very late (a stall) moves the
    plan, so the sends held up by it leave spaced, not as one burst.
    """
    gap = 1.0 / ((per_second or 80) * PACE)
    pacer = _pacers.setdefault(asyncio.get_running_loop(), _NumberPacer())
    lock = pacer.locks.setdefault(phone_id, asyncio.Lock())
    async with lock:
        now = time.monotonic()
        at = max(now, pacer.next.get(phone_id, now))
        if at > now:
            await asyncio.sleep(at - now)
        pacer.next[phone_id] = max(at + gap, time.monotonic() + gap * LATE_SHARE)


async def send_stored(
    client: Any, to: str, message: dict[str, Any], media: dict[str, Any] | None
) -> str:
    """Send a stored message (its payload as queued) with a client; the wamid Meta gave it."""
    p = message["payload"]
    reply = message["context_wamid"]
    kind = p["type"]
    if kind == "text":
        return str(
            await client.send_text(
                to, p["body"], preview_url=p.get("preview_url", False), reply_to=reply
            )
        )
    if kind in ("image", "video", "audio", "document", "sticker"):
        assert media is not None
        media_id = await client.upload_media(
            media["data"], mime_type=media["mime_type"], filename=media["filename"]
        )
        return str(
            await client.send_media(
                to,
                kind,
                media_id,
                caption=p.get("caption"),
                filename=media["filename"],
                reply_to=reply,
            )
        )
    if kind == "location":
        return str(
            await client.send_location(
                to,
                latitude=p["latitude"],
                longitude=p["longitude"],
                name=p.get("name"),
                address=p.get("address"),
                reply_to=reply,
            )
        )
    if kind == "reaction":
        return str(
            await client.send_reaction(to, emoji=p["emoji"], message_wamid=p["message_wamid"])
        )
    if kind == "template":
        return str(
            await client.send_template(
                to,
                name=p["name"],
                language=p["language"],
                body_params=p.get("body_params") or [],
                header_media=p.get("header_media"),
                reply_to=reply,
            )
        )
    raise errors.ParameterError(None, "Unknown message type", f"cannot send {kind!r}")


def lease() -> timedelta:
    """The send lease (WACRM_SEND_LEASE_SECONDS): longer than the client's 30 s timeout plus limiter waits."""
    return timedelta(seconds=context.current().settings.send_lease_seconds)


# One statement to record the outcome: the message (wamid and 'sent', or 'failed' with the
# explanation), the send state 'done', and the live event. A status webhook may have come first:
# then the message only needs its wamid (the early-status trigger applies the status).
_SENT = """
WITH m AS (
  UPDATE {messages} SET wamid = %(wamid)s,
    status = CASE WHEN status IN ('queued', 'sending') THEN 'sent' ELSE status END,
    status_at = CASE WHEN status IN ('queued', 'sending') THEN now() ELSE status_at END
  WHERE id = %(id)s AND (status IN ('queued', 'sending') OR wamid IS NULL)
  RETURNING id
), s AS (
  UPDATE outbound_sends SET state = 'done', lease_until = NULL, updated_at = now()
  WHERE agent_id = %(agent)s AND message_id = %(id)s
  RETURNING message_id
)
SELECT """ + live.notify_json_sql("%(event)s")
_FAILED = """
WITH m AS (
  UPDATE {messages} SET status = 'failed', status_at = now(), error_code = %(code)s,
    error_title = %(title)s, error_details = %(details)s
  WHERE id = %(id)s
  RETURNING id
), s AS (
  UPDATE outbound_sends SET state = 'done', lease_until = NULL, updated_at = now()
  WHERE agent_id = %(agent)s AND message_id = %(id)s
  RETURNING message_id
)
SELECT """ + live.notify_json_sql("%(event)s")


async def finish_send(
    conn: AsyncConnection[Any],
    tables: AgentTables,
    message_id: int,
    customer_id: int,
    *,
    wamid: str | None = None,
    failure: errors.SendError | None = None,
) -> None:
    """Record a send's outcome: its wamid and 'sent', or 'failed' with the explanation."""
    event = live.payload(
        agent_id=tables.agent_id, kind="status", customer_id=customer_id, message_id=message_id
    )
    params: dict[str, Any] = {
        "agent": tables.agent_id,
        "id": message_id,
        "event": event,
        "wamid": wamid,
    }
    if failure is None:
        await conn.execute(tables.query(_SENT), params)
    else:
        params.update(
            code=failure.code,
            title=failure.title,
            # Meta's own words only: pages explain the code themselves (saying it once)
            details=failure.details
            if failure.code is not None
            else f"{failure.explanation}. {failure.details or ''}".strip(),
        )
        await conn.execute(tables.query(_FAILED), params)
