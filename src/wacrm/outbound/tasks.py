"""Sending a claimed send, the worker's claim of due sends, the read-receipt job, and the
sweeper of expired send leases."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from wacrm.agents.tables import AgentTables
from wacrm.jobs import context, entrypoint, on_stop, periodic
from wacrm.numbers import service as numbers
from wacrm.outbound import dispatch, errors, limiter, recorder
from wacrm.outbound.client import client_for, close_shared
from wacrm.outbound.schedule import schedule_send
from wacrm.outbound.sending import finish_send, lease, pace, send_stored
from wacrm.outbound.service import READ_JOB
from wacrm.security.crypto import decrypt_secret

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")
PAIR_WAIT_INLINE = 2.0  # longer waits for a customer's slot free the worker and come back later


@functools.lru_cache(maxsize=1024)
def _access_token(api_key: str) -> str:
    """A number's decrypted token, by its stored ciphertext (not one Fernet decryption per send;
    a new token or key gives a new ciphertext)."""
    return decrypt_secret(api_key)


def backoff(attempt: int) -> timedelta:
    """Delay before retry `attempt` (1, 2, ...): 2, 4, 8, ... seconds, at most 5 minutes."""
    return timedelta(seconds=min(300, 2**attempt))


async def send_claimed(claim: dict[str, Any]) -> None:
    """Send one claimed send (`claim.claim_due`'s row); record wamid and 'sent', or 'failed' with
    the explanation, or put it back in the schedule for a retry.

    A database connection is held only for the record (and the rare failure), not while waiting
    for a limiter slot or for Meta.
    """
    tables = AgentTables(int(claim["agent_id"]), claim["agent_prefix"])
    message_id = int(claim["message_id"])
    pool = context.current().statements
    send = await _prepare(pool, tables, claim)
    if send is None:
        return
    try:
        # the client first (a number's first one is built here), so its cost is not paid after
        # the slot: a late first send would land in the next one's second (130429)
        async with client_for(send.config, context.current().settings.graph_api) as client:
            await _wait_for_slots(pool, send)
            wamid = await send_stored(client, send.to, send.message, send.media)
    except errors.SendError as exc:
        async with pool.connection() as conn:
            await _handle_failure(
                conn, tables, send.message, send.claim["attempts"], exc, send.config
            )
        return
    # a fresh connection, retried through a database outage: the message is out
    await _record_sent(pool, tables, message_id, send.message["customer_id"], wamid)


@dataclass
class _Send:
    """A claimed send, ready to go once its slots come."""

    claim: dict[str, Any]
    message: dict[str, Any]
    config: dict[str, Any]
    to: str
    media: dict[str, Any] | None
    pair_wait: float

    @property
    def phone_id(self) -> str:
        return str(self.config["phone_number_id"])


async def _prepare(
    pool: AsyncConnectionPool[Any], tables: AgentTables, claim: dict[str, Any]
) -> _Send | None:
    """The send, ready once its slots come; None when there is nothing to send now (its message
    gone, failed here, or back in the schedule for the customer's slot)."""
    message_id = int(claim["message_id"])
    if claim["id"] is None:
        async with pool.connection() as conn:
            await conn.execute(
                "DELETE FROM outbound_sends WHERE agent_id = %s AND message_id = %s",
                (tables.agent_id, message_id),
            )
        return None
    message = {
        "id": message_id,
        "customer_id": claim["customer_id"],
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
    failure = _unsendable(claim, config)
    pair_wait = 0.0 if failure is not None else _pair_wait(claim)
    if pair_wait > PAIR_WAIT_INLINE:  # frees the slot: back in the schedule until the pair slot
        async with pool.connection() as conn:
            await _reschedule(conn, tables, message_id, pair_wait, pair_slot_later=True)
        return None
    media = None
    if failure is None and message["payload"]["type"] in MEDIA_KINDS:
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT * FROM outbound_media WHERE id = %s AND agent_id = %s",
                (message["payload"]["media_id"], tables.agent_id),
            )
            media = await cur.fetchone()
        if media is None:
            failure = errors.MediaError(None, "File deleted", "the uploaded file no longer exists")
    if failure is not None:
        async with pool.connection() as conn:
            await finish_send(conn, tables, message_id, claim["customer_id"], failure=failure)
        return None
    return _Send(claim, message, config, claim["recipient"], media, pair_wait)


_RESCHEDULE = """
UPDATE outbound_sends SET state = 'scheduled', due_at = now() + %(wait)s, lease_until = NULL,
  claimed_by = NULL, attempts = attempts - %(undo)s, updated_at = now(),
  pair_slot_at = CASE WHEN %(later)s THEN now() + %(wait)s ELSE now() END
WHERE agent_id = %(agent)s AND message_id = %(id)s
"""


async def _reschedule(
    conn: AsyncConnection[Any],
    tables: AgentTables,
    message_id: int,
    wait: float,
    *,
    pair_slot_later: bool,
) -> None:
    """Put a claimed send back in the schedule, due in `wait` seconds, its customer's slot already
    reserved (`pair_slot_later`: that slot is the reason, and the attempt does not count)."""
    await conn.execute(
        _RESCHEDULE,
        {
            "wait": timedelta(seconds=wait),
            "undo": 1 if pair_slot_later else 0,
            "later": pair_slot_later,
            "agent": tables.agent_id,
            "id": message_id,
        },
    )


def _unsendable(claim: dict[str, Any], config: dict[str, Any]) -> errors.SendError | None:
    """Why this send cannot go out at all (no usable number, no recipient), else None."""
    if (
        claim["config_id"] is None
        or not config["is_active"]
        or not config["phone_number_id"]
        or not config["access_token"]
    ):
        return errors.NotConfiguredError()
    if not claim["recipient"]:
        return errors.UndeliverableError(
            None,
            "No recipient",
            "the customer has neither a phone number nor a WhatsApp user id",
        )
    return None


def _pair_wait(claim: dict[str, Any]) -> float:
    """Seconds until the customer's slot (0 when it was reserved before this claim)."""
    if claim["pair_tokens"] is None:
        return 0.0
    return limiter.wait_for(float(claim["pair_tokens"]), limiter.PAIR_RATE)


async def _wait_for_slots(pool: AsyncConnectionPool[Any], send: _Send) -> None:
    """Wait for the limiter's slots (the customer's, then the number's) and this process's pace."""
    per_second = send.claim["messages_per_second"]
    if send.claim["number_tokens"] is not None:
        # from when the slot was taken: the claim statement took it for many sends, and a send
        # that leaves late by its claim's duration lands in the next one's second (130429)
        since = send.claim["number_taken_ago"] + time.monotonic() - send.claim["received"]
        wait = limiter.wait_for(float(send.claim["number_tokens"]), limiter.number_rate(per_second))
        await asyncio.sleep(max(0.0, wait - since))
    else:  # the customer's slot comes first, then the number's (taken now, as limiter does)
        await asyncio.sleep(send.pair_wait)
        async with pool.connection() as conn:
            wait = await limiter.reserve_number(
                conn, phone_number_id=send.phone_id, per_second=per_second
            )
        await asyncio.sleep(wait)
    await pace(send.phone_id, per_second)


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
                await finish_send(conn, tables, message_id, customer_id, wamid=wamid)
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
            await _reschedule(
                conn,
                tables,
                message["id"],
                backoff(attempts).total_seconds(),
                pair_slot_later=False,
            )
        return
    if exc.transient:
        exc.details = f"gave up after {attempts} attempts: {exc.details or exc.title}"
    await finish_send(conn, tables, message["id"], message["customer_id"], failure=exc)


@entrypoint(READ_JOB, max_attempts=3)
async def send_read_receipt(payload: dict[str, Any]) -> None:
    """Tell Meta the customer's message (and the earlier ones) were read."""
    async with context.current().pool.connection() as conn:
        config = await numbers.get_by_agent_id(conn, agent_id=int(payload["agent_id"]))
    if config is None or not config.get("access_token") or not config.get("phone_number_id"):
        return
    async with client_for(config, context.current().settings.graph_api) as client:
        try:
            await client.mark_as_read(payload["wamid"])
        except errors.SendError as exc:
            if exc.transient:
                raise
            log.info("read receipt for %s not sent: %s", payload["wamid"], exc.explanation)


@periodic("outbound.dispatch", every=timedelta(milliseconds=25))
async def dispatch_due() -> None:
    """Claim the due sends for this worker's free send slots and send them (every 25 ms while
    sends are due: a number at 80/s has about two sends per claim)."""
    await dispatch.dispatch_due(send_claimed)


@periodic("outbound.sweep_leases", every=timedelta(seconds=10))
async def sweep_expired_leases() -> None:
    """Sends whose worker vanished (their lease expired): queue them again, or fail them after MAX_ATTEMPTS."""
    async with context.current().pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            """SELECT s.agent_id, s.message_id, s.attempts, s.bulk, a.agent_prefix FROM outbound_sends s
               JOIN agents a ON a.id = s.agent_id
               WHERE s.state = 'sending' AND s.lease_until < now()
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


@on_stop("outbound.close_http_pool")
async def close_http_pool() -> None:
    """Let the worker's sends in flight end, then close the outbound HTTP connection pool they
    shared (one per event loop)."""
    await dispatch.finish_current()
    await close_shared()
