"""The send job, the read-receipt job, and the sweeper of expired send leases."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import weakref
from datetime import timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from wacrm.agents.tables import AgentTables
from wacrm.jobs import Retry, context, entrypoint, on_stop, periodic
from wacrm.numbers import service as numbers
from wacrm.outbound import errors, limiter, recorder, schedule
from wacrm.outbound.client import client_for, close_shared
from wacrm.outbound.schedule import SEND_JOB, schedule_send
from wacrm.outbound.service import READ_JOB
from wacrm.realtime import events as live
from wacrm.security.crypto import decrypt_secret

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
PAIR_WAIT_INLINE = 2.0  # longer waits for a customer's slot free the worker and come back later
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


async def _pace(phone_id: str, per_second: int | None) -> None:
    """Space this process's sends of one number by 1 / (98% of its limit).

    The shared bucket gives each send a slot at 96% of the limit, but a send happens when its
    timer fires: after an event-loop stall of more than ~40 ms, the sends whose slots passed went
    out together, and Meta counted the burst and the next on-time sends in one second (130429).
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


@functools.lru_cache(maxsize=1024)
def _access_token(api_key: str) -> str:
    """A number's decrypted token, by its stored ciphertext (not one Fernet decryption per send;
    a new token or key gives a new ciphertext)."""
    return decrypt_secret(api_key)


def lease() -> timedelta:
    """The send lease (WACRM_SEND_LEASE_SECONDS): longer than the client's 30 s timeout plus limiter waits."""
    return timedelta(seconds=context.current().settings.send_lease_seconds)


def backoff(attempt: int) -> timedelta:
    """Delay before retry `attempt` (1, 2, ...): 2, 4, 8, ... seconds, at most 5 minutes."""
    return timedelta(seconds=min(300, 2**attempt))


# One statement (one round trip) per send before the HTTP call: take the send lease, mark the
# message 'sending', read the message, its recipient and the number, and take the limiter's slots
# (the customer's pair slot unless one was reserved earlier; the number's slot unless the pair slot
# is in the future, when it is taken after waiting for the pair slot, as `limiter` does alone).
# Keys and rates as in `limiter` (number_key, pair_key, number_rate). The message is read as it
# was before this statement marked it 'sending' (one snapshot).
_CLAIM = """
WITH s AS (
  UPDATE outbound_sends SET state = 'sending', attempts = attempts + 1,
    lease_until = now() + %(lease)s, updated_at = now()
  WHERE agent_id = %(agent)s AND message_id = %(id)s
    AND (state = 'queued' OR (state = 'sending' AND lease_until < now()))
  RETURNING attempts, pair_slot_at
), marked AS (
  UPDATE {messages} SET status = 'sending', status_at = now()
  WHERE id = %(id)s AND status IN ('queued', 'sending') AND EXISTS (SELECT FROM s)
  RETURNING id
), t AS (
  SELECT s.attempts, s.pair_slot_at, m.id, m.customer_id, m.payload, m.context_wamid,
    coalesce(nullif(c.phone, ''), nullif(c.bsuid, '')) AS recipient,
    w.id AS config_id, w.phone_number_id, w.business_account_id, w.api_key, w.is_active,
    w.messages_per_second,
    (m.id IS NOT NULL AND coalesce(w.is_active, false) AND coalesce(w.phone_number_id, '') <> ''
      AND w.api_key IS NOT NULL AND coalesce(nullif(c.phone, ''), nullif(c.bsuid, '')) IS NOT NULL
    ) AS sendable
  FROM s
  LEFT JOIN {messages} m ON m.id = %(id)s
  LEFT JOIN {customers} c ON c.id = m.customer_id
  LEFT JOIN LATERAL (
    SELECT w.* FROM agents a JOIN whatsapp_configuration w ON w.user_id = a.user_id
    WHERE a.id = %(agent)s LIMIT 1
  ) w ON true
), p AS MATERIALIZED (
  SELECT t.*, CASE WHEN t.sendable AND t.pair_slot_at IS NULL THEN wacrm_take_token(
      'p:' || t.phone_number_id || ':' || t.recipient, %(pair_rate)s, %(pair_burst)s) END AS pair_tokens
  FROM t
)
SELECT p.*, CASE WHEN p.sendable AND (p.pair_slot_at IS NOT NULL OR p.pair_tokens >= 0)
    THEN wacrm_take_token('n:' || p.phone_number_id,
      coalesce(nullif(p.messages_per_second, 0), 80) * %(headroom)s, 1) END AS number_tokens
FROM p
"""

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


async def _claim(
    conn: AsyncConnection[Any], tables: AgentTables, message_id: int
) -> dict[str, Any] | None:
    """Take the send lease and the limiter slots; None when another worker holds a live lease or
    the send is done. The row's `id` is None when the message itself is gone."""
    cur = await conn.execute(
        tables.query(_CLAIM),
        {
            "lease": lease(),
            "agent": tables.agent_id,
            "id": message_id,
            "pair_rate": float(limiter.PAIR_RATE),
            "pair_burst": float(limiter.PAIR_BURST),
            "headroom": float(limiter.HEADROOM),
        },
    )
    return await cur.fetchone()


async def _finish(
    conn: AsyncConnection[Any],
    tables: AgentTables,
    message_id: int,
    customer_id: int,
    *,
    wamid: str | None = None,
    failure: errors.SendError | None = None,
) -> None:
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


async def _send(client: Any, to: str, message: dict[str, Any], media: dict[str, Any] | None) -> str:
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
                reply_to=reply,
            )
        )
    raise errors.ParameterError(None, "Unknown message type", f"cannot send {kind!r}")


@entrypoint(SEND_JOB)
async def send_message(payload: dict[str, Any]) -> None:
    """Send one queued outbound message; record wamid and 'sent', or 'failed' with the explanation.

    The database connection is held only for the claim (one statement) and the record (one
    statement), not while waiting for a limiter slot or for Meta.
    """
    tables = AgentTables(int(payload["agent_id"]), payload["prefix"])
    message_id = int(payload["message_id"])
    pool = context.current().statements
    async with pool.connection() as conn:
        claim = await _claim(conn, tables, message_id)
        if claim is None:
            cur = await conn.execute(
                "SELECT lease_until - now() AS left FROM outbound_sends WHERE agent_id = %s AND message_id = %s AND state = 'sending'",
                (tables.agent_id, message_id),
            )
            held = await cur.fetchone()
            if (
                held is not None
            ):  # a worker that looked dead may still be sending: decide after its lease
                raise Retry(
                    held["left"] + timedelta(seconds=1),
                    reason="another worker holds the send lease",
                )
            return
        if claim["id"] is None:
            await conn.execute(
                "DELETE FROM outbound_sends WHERE agent_id = %s AND message_id = %s",
                (tables.agent_id, message_id),
            )
            return
        customer_id = claim["customer_id"]
        message = {
            "id": message_id,
            "customer_id": customer_id,
            "payload": claim["payload"],
            "context_wamid": claim["context_wamid"],
        }
        config = {
            "id": claim["config_id"],
            "phone_number_id": claim["phone_number_id"],
            "business_account_id": claim["business_account_id"],
            "is_active": claim["is_active"],
            "access_token": _access_token(claim["api_key"]) if claim["api_key"] else None,
        }
        if (
            claim["config_id"] is None
            or not config["is_active"]
            or not config["phone_number_id"]
            or not config["access_token"]
        ):
            await _finish(
                conn, tables, message_id, customer_id, failure=errors.NotConfiguredError()
            )
            return
        to = claim["recipient"]
        if not to:
            await _finish(
                conn,
                tables,
                message_id,
                customer_id,
                failure=errors.UndeliverableError(
                    None,
                    "No recipient",
                    "the customer has neither a phone number nor a WhatsApp user id",
                ),
            )
            return
        phone_id = str(config["phone_number_id"])
        pair_wait = 0.0
        if claim["pair_tokens"] is not None:
            pair_wait = limiter.wait_for(float(claim["pair_tokens"]), limiter.PAIR_RATE)
            if pair_wait > PAIR_WAIT_INLINE:
                await conn.execute(
                    """UPDATE outbound_sends SET state = 'queued', attempts = attempts - 1, lease_until = NULL,
                         pair_slot_at = now() + %s WHERE agent_id = %s AND message_id = %s""",
                    (timedelta(seconds=pair_wait), tables.agent_id, message_id),
                )
                raise Retry(
                    timedelta(seconds=pair_wait), reason="spacing messages to this customer"
                )
        media = None
        if message["payload"]["type"] in ("image", "video", "audio", "document", "sticker"):
            cur = await conn.execute(
                "SELECT * FROM outbound_media WHERE id = %s AND agent_id = %s",
                (message["payload"]["media_id"], tables.agent_id),
            )
            media = await cur.fetchone()
            if media is None:
                await _finish(
                    conn,
                    tables,
                    message_id,
                    customer_id,
                    failure=errors.MediaError(
                        None, "File deleted", "the uploaded file no longer exists"
                    ),
                )
                return
    per_second = claim["messages_per_second"]
    if claim["number_tokens"] is not None:
        await asyncio.sleep(
            limiter.wait_for(float(claim["number_tokens"]), limiter.number_rate(per_second))
        )
    else:  # the customer's slot comes first, then the number's (taken now, as limiter does)
        await asyncio.sleep(pair_wait)
        async with pool.connection() as conn:
            wait = await limiter.reserve_number(
                conn, phone_number_id=phone_id, per_second=per_second
            )
        await asyncio.sleep(wait)
    await _pace(phone_id, per_second)
    try:
        async with client_for(config) as client:
            wamid = await _send(client, to, message, media)
    except errors.SendError as exc:
        async with pool.connection() as conn:
            await _handle_failure(conn, tables, message, claim["attempts"], exc, config)
        return
    # a fresh connection, retried through a database outage: the message is out
    await _record_sent(pool, tables, message_id, customer_id, wamid)


async def _record_sent(
    pool: AsyncConnectionPool[Any],
    tables: AgentTables,
    message_id: int,
    customer_id: int,
    wamid: str,
) -> None:
    """Meta accepted the message: record its wamid, on a fresh connection and through a database
    outage (retrying up to the lease), so a restart between the send and this write does not make
    the job fail and send the message a second time. Recorded with the other sends that finish
    meanwhile (`recorder`); when that batch fails, this send is recorded alone."""
    deadline = time.monotonic() + lease().total_seconds()
    try:
        await recorder.for_pool(pool).record(tables, message_id, customer_id, wamid)
        return
    except (psycopg.Error, PoolTimeout) as exc:
        log.warning(
            "message %s was sent (%s); its batch was not recorded: %s", message_id, wamid, exc
        )
    delay = 0.2
    while True:
        try:
            async with pool.connection() as conn:
                await _finish(conn, tables, message_id, customer_id, wamid=wamid)
            return
        except (psycopg.OperationalError, PoolTimeout) as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("message %s was sent (%s) but not recorded yet: %s", message_id, wamid, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _handle_failure(
    conn: AsyncConnection[Any],
    tables: AgentTables,
    message: dict[str, Any],
    attempts: int,
    exc: errors.SendError,
    config: dict[str, Any],
) -> None:
    log.warning(
        "send of message %s (agent %s) failed: %s %s",
        message["id"],
        tables.agent_id,
        exc.code,
        exc.title,
    )
    if isinstance(exc, errors.AuthError):
        await conn.execute(
            "UPDATE whatsapp_configuration SET needs_attention = %s, updated_at = now() WHERE id = %s",
            (exc.explanation, config["id"]),
        )
    if exc.transient and attempts < MAX_ATTEMPTS:
        delay = backoff(attempts)
        async with conn.transaction():
            await conn.execute(
                tables.query(
                    "UPDATE {messages} SET status = 'queued', status_at = now(), error_code = %s, error_title = %s, error_details = %s WHERE id = %s"
                ),
                (
                    exc.code,
                    exc.title,
                    f"attempt {attempts} failed: {exc.explanation}",
                    message["id"],
                ),
            )
            await conn.execute(
                "UPDATE outbound_sends SET state = 'queued', lease_until = NULL, pair_slot_at = now(), updated_at = now() WHERE agent_id = %s AND message_id = %s",
                (tables.agent_id, message["id"]),
            )
        raise Retry(delay, reason=exc.explanation)
    if exc.transient:
        exc.details = f"gave up after {attempts} attempts: {exc.details or exc.title}"
    await _finish(conn, tables, message["id"], message["customer_id"], failure=exc)


@entrypoint(READ_JOB, max_attempts=3)
async def send_read_receipt(payload: dict[str, Any]) -> None:
    """Tell Meta the customer's message (and the earlier ones) were read."""
    async with context.current().pool.connection() as conn:
        config = await numbers.get_by_agent_id(conn, agent_id=int(payload["agent_id"]))
    if config is None or not config.get("access_token") or not config.get("phone_number_id"):
        return
    async with client_for(config) as client:
        try:
            await client.mark_as_read(payload["wamid"])
        except errors.SendError as exc:
            if exc.transient:
                raise
            log.info("read receipt for %s not sent: %s", payload["wamid"], exc.explanation)


@periodic("outbound.sweep_leases", every=timedelta(seconds=30))
async def sweep_expired_leases() -> None:
    """Sends whose worker vanished and whose job is gone: queue them again, or fail them after MAX_ATTEMPTS."""
    async with context.current().pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            """SELECT s.agent_id, s.message_id, s.attempts, s.bulk, a.agent_prefix FROM outbound_sends s
               JOIN agents a ON a.id = s.agent_id
               WHERE s.state = 'sending' AND s.lease_until < now() - interval '30 seconds'
                 AND NOT EXISTS (SELECT 1 FROM pgqueuer q WHERE q.id = s.job_id)
               ORDER BY s.lease_until LIMIT 100 FOR UPDATE OF s SKIP LOCKED"""
        )
        for row in await cur.fetchall():
            tables = AgentTables(row["agent_id"], row["agent_prefix"])
            if row["attempts"] < MAX_ATTEMPTS:
                attempts = row["attempts"]
                await schedule_send(
                    conn, tables=tables, message_id=row["message_id"], bulk=row["bulk"]
                )
                await conn.execute(
                    "UPDATE outbound_sends SET attempts = %s WHERE agent_id = %s AND message_id = %s",
                    (attempts, row["agent_id"], row["message_id"]),
                )
                continue
            await conn.execute(
                tables.query(
                    """UPDATE {messages} SET status = 'failed', status_at = now(), error_title = 'Send interrupted',
                         error_details = %s WHERE id = %s AND status IN ('queued', 'sending')"""
                ),
                (
                    f"the send was interrupted {row['attempts']} times; it may or may not have reached the customer",
                    row["message_id"],
                ),
            )
            await conn.execute(
                "UPDATE outbound_sends SET state = 'done', lease_until = NULL WHERE agent_id = %s AND message_id = %s",
                (row["agent_id"], row["message_id"]),
            )


RELEASE_IDLE_WAIT = 0.25  # seconds between looks when no scheduled send is due soon


@periodic("outbound.release_scheduled", every=timedelta(milliseconds=25))
async def release_scheduled() -> None:
    """Turn scheduled sends whose slot has come into send jobs; when none is due, wait for the
    next slot (at most RELEASE_IDLE_WAIT). Every 25 ms while sends are due: a number at 80/s has
    about two sends per release, and its send jobs wait at most that long for their limiter slot."""
    pool = context.current().statements
    try:
        async with pool.connection() as conn:
            if await schedule.release_due(conn):
                return
            following = await schedule.seconds_to_next(conn)
    except (psycopg.OperationalError, PoolTimeout) as exc:
        log.warning("scheduled sends not released (database unavailable): %s", exc)
        await asyncio.sleep(1.0)
        return
    except psycopg.Error:  # e.g. a table missing mid-deploy: one traceback a second, not 40
        log.exception("scheduled sends not released")
        await asyncio.sleep(1.0)
        return
    wait = RELEASE_IDLE_WAIT if following is None else following - schedule.NEAR
    await asyncio.sleep(min(max(wait, 0.0), RELEASE_IDLE_WAIT))


@on_stop("outbound.close_http_pool")
async def close_http_pool() -> None:
    """Close the outbound HTTP connection pool the worker's sends shared (one per event loop)."""
    await close_shared()
