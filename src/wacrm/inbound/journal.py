"""Every statement on `webhook_journal`: receive, claim, done, failed, retry, retention, listing.

The journal keeps each verified POST body before the 200: 'received' (waiting for a journal
processor), 'processed', or 'failed' with the reason (kept for `wacrm webhooks replay`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import psycopg
from psycopg import AsyncConnection, sql

JOURNAL_CHANNEL = "wacrm_journal"  # NOTIFY'd when deferred webhooks wait in the journal
MAX_ATTEMPTS = 5  # a row that deadlocks this often is marked failed (kept for replay)
PRUNE_BATCH = 5_000  # rows per retention DELETE: short transactions, few locks

_PROCESSED = (
    "INSERT INTO webhook_journal (phone_number_id, body, status, attempts, processed_at)"
    " SELECT p, b, 'processed', 1, now() FROM unnest(%s::text[], %s::bytea[]) AS x(p, b)"
)
# the bodies travel as ONE binary parameter cut apart by offset, the rest as one JSON array
_RECEIVED = (
    "WITH m AS (SELECT * FROM json_to_recordset(%s::json) AS m(p text, f int, n int, s text)),"
    " ins AS (INSERT INTO webhook_journal (phone_number_id, body, status, error)"
    "  SELECT m.p, substring(%b::bytea FROM m.f FOR m.n), m.s,"
    "   CASE WHEN m.s = 'failed' THEN 'the body is not JSON' END FROM m ORDER BY m.f)"
    f" SELECT pg_notify('{JOURNAL_CHANNEL}', '') WHERE %s"
)
_FAILED_ON_RECEIPT = (
    "INSERT INTO webhook_journal (phone_number_id, body, status, error, attempts)"
    " VALUES (%s, %s, 'failed', %s, 1) RETURNING id"
)
_CLAIM = (  # migrations 0106, 0135
    "SELECT id, body, phone_number_id FROM wacrm_claim_journal_by_number(%s, %s, %s, %s, %s, %s)"
)
CLAIM_NUMBERS = 20  # numbers (agents) per claim: each costs its own statements and ~20 locks
CLAIM_SCAN = 5000  # waiting rows a claim looks through for those numbers' webhooks
_DONE = (
    "UPDATE webhook_journal SET status = 'processed', error = NULL, attempts = attempts + 1,"
    " processed_at = clock_timestamp() WHERE id = ANY(%s)"
)
_FAILED = (
    "UPDATE webhook_journal SET status = 'failed', error = %s, attempts = attempts + 1"
    " WHERE id = %s"
)
_RETRY_LATER = (
    "UPDATE webhook_journal SET attempts = attempts + 1,"
    " status = CASE WHEN attempts + 1 >= %s THEN 'failed' ELSE status END,"
    " error = CASE WHEN attempts + 1 >= %s THEN %s ELSE error END WHERE id = %s"
)
# One text per filter (no "param IS NULL OR ..."): a generic plan of that form walked the whole
# journal backwards for the few failed rows (docs/performance.md, "Admin pages paged").
_LIST = """
SELECT id, received_at, phone_number_id, status, error, attempts, processed_at, body
FROM webhook_journal WHERE {} ORDER BY id DESC LIMIT %(limit)s
"""
# The journal's ids grow with its receive time, so the rows old enough are those below the first
# id received after the cut-off, found once per run by walking the primary key (no index on
# received_at to keep up on the ingest path); each batch walks on from the last id it deleted.
# SKIP LOCKED: a row a processor holds is left for the next run.
_PRUNE_EDGE = """
SELECT coalesce(
  (SELECT id FROM webhook_journal WHERE received_at >= %(cutoff)s ORDER BY id LIMIT 1),
  (SELECT max(id) + 1 FROM webhook_journal),
  0
) AS id
"""
_PRUNE = """
WITH old AS (
  SELECT id FROM webhook_journal
  WHERE id > %(after)s AND id < %(edge)s AND status = 'processed'
  ORDER BY id LIMIT %(batch)s
  FOR UPDATE SKIP LOCKED
)
DELETE FROM webhook_journal j USING old WHERE j.id = old.id RETURNING j.id
"""


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


@dataclass
class JournalRow:
    """A journaled body to process (`data` is None when it is not JSON)."""

    id: int
    data: Any
    phone_number_id: str | None = None


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


def _decoded(rows: Sequence[Any]) -> list[JournalRow]:
    out = []
    for r in rows:
        try:
            data = orjson.loads(bytes(r["body"]))
        except orjson.JSONDecodeError:
            data = None
        out.append(JournalRow(int(r["id"]), data, r.get("phone_number_id")))
    return out


async def journal_received(conn: AsyncConnection[Any], hooks: Sequence[Webhook]) -> list[str]:
    """Journal `hooks` for deferred processing in ONE statement; each one's journal status.

    Committed when it returns (its own transaction, or a savepoint of the caller's). A body that
    is not JSON is journaled 'failed' at once; the others wait as 'received' for a journal
    processor, woken by a NOTIFY on `JOURNAL_CHANNEL` sent by the same statement.
    """
    statuses = ["received" if h.data is not None else "failed" for h in hooks]
    meta = []
    offset = 1  # substring() counts from 1
    for h, status in zip(hooks, statuses, strict=True):
        meta.append({"p": h.phone_number_id, "f": offset, "n": len(h.body), "s": status})
        offset += len(h.body)
    params = (orjson.dumps(meta).decode(), b"".join(h.body for h in hooks), "received" in statuses)
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        await conn.execute(_RECEIVED, params, prepare=True)
    else:
        async with conn.transaction():
            await conn.execute(_RECEIVED, params, prepare=True)
    return statuses


async def journal_processed(conn: AsyncConnection[Any], hooks: Sequence[Webhook]) -> None:
    """Journal `hooks` as processed, in the caller's transaction (inline processing)."""
    params = ([h.phone_number_id for h in hooks], [h.body for h in hooks])
    await conn.execute(_PROCESSED, params, prepare=True)


async def journal_failed(conn: AsyncConnection[Any], hook: Webhook, error: str) -> int:
    """Journal one body that could not be processed inline, with the reason; its id."""
    async with conn.transaction():
        cur = await conn.execute(_FAILED_ON_RECEIPT, (hook.phone_number_id, hook.body, error))
        row = await cur.fetchone()
    assert row is not None
    return int(row["id"])


async def claim(
    conn: AsyncConnection[Any],
    *,
    start: int,
    batch: int,
    numbers: int = CLAIM_NUMBERS,
    shard: int = 0,
    shards: int = 1,
) -> list[JournalRow]:
    """Lock up to `batch` waiting rows of at most `numbers` numbers from id `start` on (in the
    caller's transaction): the numbers of the oldest waiting rows, their rows oldest first; only
    numbers of `shard` (of `shards`, by a hash of the number) when there are several."""
    params = (start, batch, numbers, CLAIM_SCAN, shard, shards)
    cur = await conn.execute(_CLAIM, params, prepare=True)
    return _decoded(await cur.fetchall())


async def mark_done(conn: AsyncConnection[Any], ids: list[int]) -> None:
    await conn.execute(_DONE, (ids,), prepare=True)


async def mark_failed(conn: AsyncConnection[Any], journal_id: int, error: str) -> None:
    await conn.execute(_FAILED, (error, journal_id))


async def retry_later(conn: AsyncConnection[Any], journal_id: int, error: str) -> None:
    """Count a deadlocked attempt; the row waits for the next claim, or fails after MAX_ATTEMPTS."""
    await conn.execute(_RETRY_LATER, (MAX_ATTEMPTS, MAX_ATTEMPTS, error, journal_id))


async def rows_to_replay(
    conn: AsyncConnection[Any], *, journal_id: int | None = None, failed: bool = False
) -> list[JournalRow]:
    """One journal row, or every failed one (oldest first)."""
    if journal_id is None and not failed:
        raise ValueError("give a journal id or ask for every failed webhook")
    if journal_id is not None:
        cur = await conn.execute(
            "SELECT id, body FROM webhook_journal WHERE id = %s", (journal_id,)
        )
    else:
        cur = await conn.execute(
            "SELECT id, body FROM webhook_journal WHERE status = 'failed' ORDER BY id"
        )
    return _decoded(await cur.fetchall())


async def list_journal(
    conn: AsyncConnection[Any],
    *,
    status: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Journal rows newest first (the body decoded when it is JSON)."""
    where = [
        sql.SQL(text)
        for text, value in (("status = %(status)s", status), ("id < %(before)s", before_id))
        if value is not None
    ]
    query = sql.SQL(_LIST).format(sql.SQL(" AND ").join(where) if where else sql.SQL("TRUE"))
    cur = await conn.execute(query, {"status": status, "before": before_id, "limit": limit})
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


async def prune_journal(
    conn: AsyncConnection[Any], *, older_than: timedelta, now: datetime, batch: int = PRUNE_BATCH
) -> int:
    """Delete processed rows received before `now - older_than`, in batches; how many.

    A processed webhook lives on in its messages (each keeps its raw JSON); failed and waiting
    rows are never pruned: replay and the processor still need them.
    """
    cur = await conn.execute(_PRUNE_EDGE, {"cutoff": now - older_than})
    row = await cur.fetchone()
    edge = row["id"] if row else 0
    after, deleted = 0, 0
    while True:
        async with conn.transaction():
            cur = await conn.execute(_PRUNE, {"after": after, "edge": edge, "batch": batch})
            ids = [row["id"] for row in await cur.fetchall()]
        deleted += len(ids)
        if len(ids) < batch:
            return deleted
        after = max(ids)
