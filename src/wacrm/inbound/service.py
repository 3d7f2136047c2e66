"""The webhook journal: store a verified body (processed in the same transaction when it can be), list, replay."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from psycopg import AsyncConnection

from wacrm.inbound.bulk import process_batch
from wacrm.inbound.processing import (
    ProcessingError,
    RouteSource,
    enqueue_media_jobs,
    process_payload,
)
from wacrm.inbound.routing import RouteCache

log = logging.getLogger(__name__)

LAST_WEBHOOK_EVERY = 5.0  # seconds between updates of whatsapp_configuration.last_webhook_at
_last_webhook_sent: dict[tuple[str, int], float] = {}  # (database, configuration id) → when

_JOURNAL_OK = (
    "INSERT INTO webhook_journal (phone_number_id, body, status, attempts, processed_at)"
    " SELECT p, b, 'processed', 1, now() FROM unnest(%s::text[], %s::bytea[]) AS x(p, b)"
)
JOURNAL_CHANNEL = "wacrm_journal"  # NOTIFY'd when deferred webhooks wait in the journal
_JOURNAL_RECEIVED = (
    "WITH m AS (SELECT * FROM json_to_recordset(%s::json) AS m(p text, f int, n int, s text)),"
    " ins AS (INSERT INTO webhook_journal (phone_number_id, body, status, error)"
    "  SELECT m.p, substring(%b::bytea FROM m.f FOR m.n), m.s,"
    "   CASE WHEN m.s = 'failed' THEN 'the body is not JSON' END FROM m ORDER BY m.f)"
    f" SELECT pg_notify('{JOURNAL_CHANNEL}', '') WHERE %s"
)
_JOURNAL_FAILED = (
    "INSERT INTO webhook_journal (phone_number_id, body, status, error, attempts)"
    " VALUES (%s, %s, 'failed', %s, 1) RETURNING id"
)
_TOUCH_CONFIG = (
    "UPDATE whatsapp_configuration SET last_webhook_at = now() WHERE id = ANY(%s)"
    " AND (last_webhook_at IS NULL OR last_webhook_at < now() - interval '5 seconds')"
)


@dataclass(frozen=True)
class Webhook:
    """A verified POST body, decoded when it is JSON (`data` is None when it is not)."""

    body: bytes
    data: Any
    phone_number_id: str | None

    @property
    def lock_key(self) -> tuple[str, str]:
        """(number, customer) the webhook is about: batches process webhooks in this order."""
        return (self.phone_number_id or "", customer_key(self.data))


def customer_key(data: Any) -> str:
    """The first message's sender or status's recipient (phone before BSUID); '' if none."""
    try:
        value = data["entry"][0]["changes"][0]["value"]
        for item in value.get("messages") or ():
            return str(item.get("from") or item.get("from_user_id") or "")
        for item in value.get("statuses") or ():
            return str(item.get("recipient_id") or item.get("recipient_user_id") or "")
    except (KeyError, IndexError, TypeError, AttributeError):
        pass
    return ""


def describe(exc: BaseException) -> str:
    """The error text kept in the journal (NUL, which PostgreSQL text cannot hold, shown as \\x00)."""
    text = str(exc) if isinstance(exc, ProcessingError) else f"{type(exc).__name__}: {exc}"
    return text.replace("\x00", "\\x00")[:2000]


def _due_config_ids(database: str, config_ids: set[int]) -> list[int]:
    now = time.monotonic()
    due = [
        c
        for c in config_ids
        if now - _last_webhook_sent.get((database, c), 0.0) >= LAST_WEBHOOK_EVERY
    ]
    for c in due:
        _last_webhook_sent[(database, c)] = now
    return due


async def process_in_transaction(
    conn: AsyncConnection[Any], hooks: Sequence[Webhook], routes: RouteSource
) -> None:
    """Journal and process `hooks` in ONE pipelined transaction (raises if any of them fails).

    The journal rows of the whole batch are one statement, and so are its media download jobs;
    the messages and statuses are a few set-based statements per agent (`wacrm.inbound.bulk`).
    """
    if any(hook.data is None for hook in hooks):
        raise ProcessingError("the body is not JSON")
    async with conn.pipeline(), conn.transaction():
        await conn.execute(
            _JOURNAL_OK,
            ([h.phone_number_id for h in hooks], [h.body for h in hooks]),
            prepare=True,
        )
        await process_datas(conn, [h.data for h in hooks], routes)


async def process_datas(
    conn: AsyncConnection[Any], datas: Sequence[Any], routes: RouteSource
) -> None:
    """Process decoded payloads in the caller's transaction: rows, media download jobs, and the
    numbers' last-webhook time (shared by inline batches and the journal processor)."""
    config_ids, media_jobs = await process_batch(conn, datas, routes)
    await enqueue_media_jobs(conn, media_jobs)
    due = _due_config_ids(conn.info.dbname, config_ids)
    if due:
        await conn.execute(_TOUCH_CONFIG, (due,))


async def journal_received(conn: AsyncConnection[Any], hooks: Sequence[Webhook]) -> list[str]:
    """Journal `hooks` for deferred processing in ONE statement (autocommit: its own transaction,
    committed when it returns); each one's journal status.

    A body that is not JSON is journaled 'failed' at once; the others wait as 'received' for a
    journal processor (`wacrm.inbound.processor`), woken by a NOTIFY on `JOURNAL_CHANNEL` sent by
    the same statement. The bodies travel as ONE binary parameter (cut apart by offset in the
    statement) and the rest as one JSON array: psycopg dumps Python lists element by element.
    """
    statuses = ["received" if h.data is not None else "failed" for h in hooks]
    meta = []
    offset = 1  # substring() counts from 1
    for h, status in zip(hooks, statuses, strict=True):
        meta.append({"p": h.phone_number_id, "f": offset, "n": len(h.body), "s": status})
        offset += len(h.body)
    params = (orjson.dumps(meta).decode(), b"".join(h.body for h in hooks), "received" in statuses)
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        await conn.execute(_JOURNAL_RECEIVED, params, prepare=True)
    else:
        async with conn.transaction():  # a caller's transaction: a savepoint inside it
            await conn.execute(_JOURNAL_RECEIVED, params, prepare=True)
    return statuses


async def journal_failed(conn: AsyncConnection[Any], hook: Webhook, error: str) -> int:
    async with conn.transaction():
        cur = await conn.execute(_JOURNAL_FAILED, (hook.phone_number_id, hook.body, error))
        row = await cur.fetchone()
    assert row is not None
    return int(row["id"])


async def store_webhook(conn: AsyncConnection[Any], hook: Webhook, routes: RouteSource) -> str:
    """Journal one verified body, processed in the same transaction when possible; 'processed' or 'failed'.

    Database outages propagate (the caller answers 503 and Meta delivers again); anything else
    leaves the body in the journal with status 'failed' and the reason.
    """
    try:
        await process_in_transaction(conn, [hook], routes)
        return "processed"
    except psycopg.OperationalError:
        raise
    except Exception as exc:
        if not isinstance(exc, ProcessingError):
            log.exception("webhook processing failed; kept in the journal for replay")
        await journal_failed(conn, hook, describe(exc))
        return "failed"


def journal_waiting(database_url: str) -> int:
    """Journal rows a journal processor has not processed yet (deferred processing; benchmarks, tests)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM webhook_journal WHERE status = 'received'"
        ).fetchone()
    return int(row[0]) if row else 0


async def list_journal(
    conn: AsyncConnection[Any],
    *,
    status: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Journal rows newest first (the body decoded when it is JSON)."""
    cur = await conn.execute(
        """SELECT id, received_at, phone_number_id, status, error, attempts, processed_at, body
           FROM webhook_journal
           WHERE (%(status)s::text IS NULL OR status = %(status)s)
             AND (%(before)s::bigint IS NULL OR id < %(before)s)
           ORDER BY id DESC LIMIT %(limit)s""",
        {"status": status, "before": before_id, "limit": limit},
    )
    rows = []
    for r in await cur.fetchall():
        row = dict(r)
        body = bytes(row.pop("body"))
        try:
            row["body"] = orjson.loads(body)
        except orjson.JSONDecodeError:
            row["body"] = body.decode("utf-8", "replace")
        rows.append(row)
    return rows


async def replay(
    conn: AsyncConnection[Any], *, journal_id: int | None = None, failed: bool = False
) -> list[dict[str, Any]]:
    """Process journal rows again (one id, or every failed one); each row's new status and error."""
    if journal_id is None and not failed:
        raise ValueError("give a journal id or ask for every failed webhook")
    if journal_id is not None:
        cur = await conn.execute(
            "SELECT id, phone_number_id, body FROM webhook_journal WHERE id = %s", (journal_id,)
        )
    else:
        cur = await conn.execute(
            "SELECT id, phone_number_id, body FROM webhook_journal WHERE status = 'failed' ORDER BY id"
        )
    rows = await cur.fetchall()
    routes = RouteCache(ttl=0.0)
    results = []
    for row in rows:
        body = bytes(row["body"])
        status, error = "processed", None
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            status, error = "failed", "the body is not JSON"
        if status == "processed":
            try:
                async with conn.pipeline(), conn.transaction():
                    await process_payload(conn, data=data, routes=routes)
                    await conn.execute(
                        "UPDATE webhook_journal SET status = 'processed', error = NULL,"
                        " attempts = attempts + 1, processed_at = now() WHERE id = %s",
                        (row["id"],),
                    )
            except psycopg.OperationalError:
                raise
            except Exception as exc:
                status, error = "failed", describe(exc)
        if status == "failed":
            await conn.execute(
                "UPDATE webhook_journal SET status = 'failed', error = %s, attempts = attempts + 1"
                " WHERE id = %s",
                (error, row["id"]),
            )
        results.append({"id": row["id"], "status": status, "error": error})
    return results
