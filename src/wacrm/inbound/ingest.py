"""The one way webhooks become customers, messages, statuses and orders.

Entry points, top-down: `ingest_webhooks` (inline processing: journaled as processed in the same
transaction), `ingest_journal_rows` (the journal processor and replay: rows marked done or failed)
and `replay`; all three go through `apply_with_fallback` (the whole batch in one transaction, else
one webhook at a time, failures recorded) and `ingest` (payloads → rows, set-based).

`ingest` reads every payload into per-agent parts (`_Batch`) and writes each part with a few
statements: ONE statement takes the phone numbers' advisory locks, and per agent ONE identity
statement (`customers.resolve_senders`) and ONE statement for messages, profile fields, counters
and statuses (`statements.MESSAGES`). Rare kinds are small helpers of that path: a catalog order
adds an order statement before the messages, a reaction a statement after them, and a change of
number or BSUID first writes what came before it, then moves the customer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
import psycopg
import psycopg.errors
from psycopg import AsyncConnection

from wacrm.agents.tables import AgentTables
from wacrm.customers import service as customers
from wacrm.inbound import coexist, journal, payload, statements
from wacrm.inbound.journal import JournalRow, Webhook
from wacrm.inbound.payload import ProcessingError
from wacrm.inbound.routing import Route, RouteCache, RouteSource
from wacrm.inbound.schemas import Contact, Message, Value
from wacrm.numbers import health
from wacrm.wa_templates import service as templates

log = logging.getLogger(__name__)

MEDIA_JOB = "media.download"
LAST_WEBHOOK_EVERY = 5.0  # seconds between updates of whatsapp_configuration.last_webhook_at
_last_webhook_sent: dict[tuple[str, int], float] = {}  # (database, configuration id) → when
_TOUCH_CONFIG = (
    "UPDATE whatsapp_configuration SET last_webhook_at = now() WHERE id = ANY(%s)"
    " AND (last_webhook_at IS NULL OR last_webhook_at < now() - interval '5 seconds')"
)
T = TypeVar("T")


async def ingest_webhooks(
    conn: AsyncConnection[Any], hooks: Sequence[Webhook], routes: RouteSource
) -> tuple[list[str], bool]:
    """Journal and process `hooks` (inline processing); (each one's journal status, fell back).

    A deadlock or a lost connection propagates (the request answers 503, Meta delivers again);
    any other failure journals the webhook 'failed' with the reason.
    """
    failed: set[int] = set()

    async def apply(part: Sequence[Webhook]) -> None:
        await journal.journal_processed(conn, part)
        await ingest(conn, [_data_of(h) for h in part], routes)

    async def record(hook: Webhook, exc: Exception) -> None:
        if isinstance(exc, psycopg.OperationalError):
            raise exc
        failed.add(id(hook))
        await journal.journal_failed(conn, hook, describe(exc))

    at_once = await apply_with_fallback(conn, hooks, apply, record)
    return ["failed" if id(h) in failed else "processed" for h in hooks], not at_once


async def ingest_journal_rows(
    conn: AsyncConnection[Any], rows: Sequence[JournalRow], routes: RouteSource
) -> dict[int, str]:
    """Process journal rows and mark them processed (in the caller's transaction, if any);
    the errors of those that failed, by journal id.

    A deadlocked row is counted and left waiting for the next claim (failed after
    `journal.MAX_ATTEMPTS`); any other failure marks it 'failed' with the reason.
    """
    errors: dict[int, str] = {}

    async def apply(part: Sequence[JournalRow]) -> None:
        await ingest(conn, [_data_of(r) for r in part], routes)
        await journal.mark_done(conn, [r.id for r in part])

    async def record(row: JournalRow, exc: Exception) -> None:
        if isinstance(exc, psycopg.errors.TransactionRollback):
            errors[row.id] = f"{type(exc).__name__} {journal.MAX_ATTEMPTS} times"
            await journal.retry_later(conn, row.id, errors[row.id])
        else:
            errors[row.id] = describe(exc)
            await journal.mark_failed(conn, row.id, errors[row.id])

    await apply_with_fallback(conn, rows, apply, record)
    return errors


async def replay(
    conn: AsyncConnection[Any], *, journal_id: int | None = None, failed: bool = False
) -> list[dict[str, Any]]:
    """Process journal rows again (one id, or every failed one); each row's new status and error."""
    rows = await journal.rows_to_replay(conn, journal_id=journal_id, failed=failed)
    errors = await ingest_journal_rows(conn, rows, RouteCache(ttl=0.0))
    return [
        {
            "id": r.id,
            "status": "failed" if r.id in errors else "processed",
            "error": errors.get(r.id),
        }
        for r in rows
    ]


async def apply_with_fallback(
    conn: AsyncConnection[Any],
    items: Sequence[T],
    apply: Callable[[Sequence[T]], Awaitable[None]],
    failed: Callable[[T, Exception], Awaitable[None]],
) -> bool:
    """`apply` all items in one transaction (a savepoint in the caller's), else each in its own;
    `failed(item, exc)` records an item that fails alone. True when all went at once.

    A lost connection propagates at once; a deadlock only fails a batch (it is retried one by one,
    and `failed` decides about a single item), like any other error.
    """
    try:
        async with conn.pipeline(), conn.transaction():
            await apply(items)
        return True
    except psycopg.OperationalError as exc:
        if not isinstance(exc, psycopg.errors.TransactionRollback):
            raise
        if len(items) == 1:
            await failed(items[0], exc)
            return True
    except Exception as exc:
        if len(items) == 1:
            _log_unexpected(exc)
            await failed(items[0], exc)
            return True
    for item in items:
        try:
            async with conn.pipeline(), conn.transaction():
                await apply([item])
        except psycopg.OperationalError as exc:
            if not isinstance(exc, psycopg.errors.TransactionRollback):
                raise
            await failed(item, exc)
        except Exception as exc:
            _log_unexpected(exc)
            await failed(item, exc)
    return False


def _log_unexpected(exc: Exception) -> None:
    if not isinstance(exc, ProcessingError):
        log.error("webhook processing failed; kept in the journal for replay", exc_info=exc)


def describe(exc: BaseException) -> str:
    """The error text kept in the journal (NUL, which PostgreSQL text cannot hold, shown as \\x00)."""
    text = str(exc) if isinstance(exc, ProcessingError) else f"{type(exc).__name__}: {exc}"
    return text.replace("\x00", "\\x00")[:2000]


def _data_of(item: Webhook | JournalRow) -> Any:
    if item.data is None:
        raise ProcessingError("the body is not JSON")
    return item.data


async def ingest(conn: AsyncConnection[Any], datas: Sequence[Any], routes: RouteSource) -> None:
    """Process decoded payloads in the caller's transaction: rows, events, media download jobs,
    and the numbers' last-webhook time. ProcessingError when one of them cannot be processed."""
    batch = _Batch()
    for i, data in enumerate(datas):
        if i % 16 == 15:
            await asyncio.sleep(0)  # a long batch must not hold up the event loop's other work
        for route, value, raw_value, kind in await payload.payload_changes(conn, data, routes):
            if kind == "user_preferences":
                batch.add_preferences(route, raw_value)
            elif kind in coexist.FIELDS:
                await batch.flush(conn)  # what came before it is written first
                batch.media_jobs += await coexist.apply(conn, route, raw_value, kind)
            else:
                await batch.add_change(conn, route, value, raw_value)
        await templates.apply_webhooks(conn, data)  # template status / category (by WABA id)
        await health.apply_webhooks(conn, data)  # account health (by WABA id)
    await batch.flush(conn)
    await enqueue_media_jobs(conn, batch.media_jobs)
    due = _due_config_ids(conn.info.dbname, batch.config_ids)
    if due:
        await conn.execute(_TOUCH_CONFIG, (due,))


@dataclass
class _Part:
    """What a batch holds for one agent until it is written."""

    tables: AgentTables
    agent_id: int
    people: list[customers.Person] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    wamids: set[str] = field(default_factory=set)
    statuses: list[list[dict[str, Any]]] = field(default_factory=list)  # rounds, one per repeat
    reactions: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)  # edits and revokes
    preferences: list[dict[str, Any]] = field(default_factory=list)  # marketing stop / resume

    def add_status(self, row: dict[str, Any]) -> None:
        for rnd in self.statuses:  # statuses of one wamid apply in order: one per round
            if all(s["wamid"] != row["wamid"] for s in rnd):
                rnd.append(row)
                return
        self.statuses.append([row])


class _Batch:
    def __init__(self) -> None:
        self.parts: dict[int, _Part] = {}
        self.media_jobs: list[dict[str, Any]] = []
        self.config_ids: set[int] = set()

    def part(self, route: Route) -> _Part:
        assert route.tables is not None and route.agent_id is not None
        part = self.parts.get(route.agent_id)
        if part is None:
            part = self.parts[route.agent_id] = _Part(route.tables, route.agent_id)
        return part

    async def add_change(
        self, conn: AsyncConnection[Any], route: Route, value: Value, raw_value: dict[str, Any]
    ) -> None:
        self.config_ids.add(route.config_id)
        contacts = value.contacts or []
        # the validated messages, in the same order as the raw ones (kept as JSON, rendered)
        for msg, raw in zip(value.messages or [], raw_value.get("messages") or [], strict=True):
            await self._add_message(conn, route, msg, raw, contacts)
        for st in value.statuses or []:
            row = payload.status_fields(st)
            if row is not None:
                self.part(route).add_status(row)

    def add_preferences(self, route: Route, raw_value: dict[str, Any]) -> None:
        """A `user_preferences` change: customers' marketing stop / resume."""
        self.config_ids.add(route.config_id)
        part = self.part(route)
        for person, row in payload.preferences(raw_value):
            part.people.append(person)
            ident = {"phone": customers.e164(person[0]), "bsuid": person[1]}
            part.preferences.append({**ident, **row, "agent_id": part.agent_id})

    async def _add_message(
        self,
        conn: AsyncConnection[Any],
        route: Route,
        msg: Message,
        raw: dict[str, Any],
        contacts: list[Contact],
    ) -> None:
        person = payload.sender(msg, contacts)
        change = payload.changed_identity(raw)
        if change is not None:
            await self.flush(conn)  # what came before the change is written first
            person = await _move_customer(conn, self.part(route).tables, person, change)
        if not person[0] and not person[1]:
            raise ProcessingError(f"message {msg.id} has neither a phone number nor a user id")
        part = self.part(route)
        part.people.append(person)
        ident = {"phone": customers.e164(person[0]), "bsuid": person[1]}
        if msg.type == "reaction":
            reaction = raw["reaction"] if isinstance(raw.get("reaction"), dict) else {}
            part.reactions.append(
                {
                    "agent_id": part.agent_id,
                    "emoji": reaction.get("emoji") or "",
                    "target": reaction.get("message_id"),
                }
            )
            return
        if msg.type in payload.MESSAGE_CHANGES:
            edit = payload.message_change(msg, raw)
            if edit is not None:  # one naming no message changes nothing (journaled as received)
                part.changes.append(
                    {**edit, "agent_id": part.agent_id, "prefix": part.tables.prefix}
                )
            return
        if not msg.id:
            raise ProcessingError("a message without an id cannot be stored exactly once")
        fields = payload.message_fields(msg, raw)
        row: dict[str, Any] = {**ident, **fields, "raw": raw}
        if msg.type == "order" and isinstance(raw.get("order"), dict):
            order = payload.order_fields(raw["order"])
            part.orders.append({**ident, **order, "wamid": msg.id, "ts": fields["ts"]})
            part.orders[-1]["agent_id"] = part.agent_id
            row["is_order"] = True
        if msg.id not in part.wamids:  # a repeated wamid is stored once (ON CONFLICT would skip it)
            part.wamids.add(msg.id)
            row["o"] = len(part.messages)
            part.messages.append(row)
        if fields["media_status"] == "pending":
            self.media_jobs.append(payload.media_job(route, fields))

    async def flush(self, conn: AsyncConnection[Any]) -> None:
        """Write what the batch holds: per batch ONE lock statement; per agent ONE identity
        statement and ONE statement for messages, profiles, counters and statuses (more only for
        orders, reactions and a wamid's repeated statuses)."""
        parts = [self.parts[agent_id] for agent_id in sorted(self.parts)]
        self.parts = {}
        senders = [customers.fold_senders(part.people) for part in parts]
        keys = [k for part, s in zip(parts, senders, strict=True) for k in s.lock_keys(part.tables)]
        await customers.lock_phones(conn, keys)  # in key order: no deadlock between batches
        for part, who in zip(parts, senders, strict=True):
            await _write_part(conn, part, who)


async def _write_part(conn: AsyncConnection[Any], part: _Part, who: customers.Senders) -> None:
    sql = statements.for_agent(part.tables)
    await customers.resolve_senders(conn, part.tables, who)
    for order in part.orders:
        await conn.execute(sql.order, order, prepare=True)
    profiles = who.profiles()
    first, rounds = (part.statuses[0], part.statuses[1:]) if part.statuses else ([], [])
    if any(s["wamid"] in part.wamids for s in first):
        first, rounds = [], part.statuses  # a status of a message stored here: after it
    if part.messages or profiles:
        params = {
            "messages": _json(part.messages),
            "profiles": _json([dict(p, o=i) for i, p in enumerate(profiles)]),
            "statuses": _json(first),  # unused by messages_only
            "agent_id": part.agent_id,
        }
        await conn.execute(sql.messages if first else sql.messages_only, params, prepare=True)
    for rnd in rounds if part.messages or profiles else part.statuses:  # else statuses alone
        params = {"statuses": _json(rnd), "agent_id": part.agent_id}
        await conn.execute(sql.statuses, params, prepare=True)
    for reaction in part.reactions:
        await conn.execute(sql.reaction, reaction, prepare=True)
    for change in part.changes:
        await conn.execute(sql.change, change, prepare=True)
    for pref in part.preferences:
        await conn.execute(sql.preference, pref, prepare=True)


async def _move_customer(
    conn: AsyncConnection[Any],
    tables: AgentTables,
    person: customers.Person,
    change: tuple[str, str | None, str | None],
) -> customers.Person:
    """Apply a change of number or BSUID; the sender as it is known from now on."""
    kind, new_wa, new_bsuid = change
    wa_id, bsuid, name, username, parent = person
    cid = await customers.change_identity(
        conn, tables=tables, old_wa_id=wa_id, old_bsuid=bsuid, new_wa_id=new_wa, new_bsuid=new_bsuid
    )
    if cid is None:
        return person
    if new_bsuid and kind == "user_changed_user_id":
        return (wa_id, new_bsuid, name, username, parent)
    if new_wa:
        return (new_wa, new_bsuid, name, username, parent)
    return person


def _json(rows: list[dict[str, Any]]) -> str:
    return orjson.dumps(rows).decode()


async def enqueue_media_jobs(conn: AsyncConnection[Any], media_jobs: list[dict[str, Any]]) -> None:
    """Queue the media downloads of a batch with one statement."""
    if not media_jobs:
        return
    from pgqueuer.db import PsycopgDriver
    from pgqueuer.queries import Queries

    n = len(media_jobs)
    await Queries(PsycopgDriver(conn)).enqueue(
        [MEDIA_JOB] * n, [orjson.dumps(job) for job in media_jobs], [0] * n
    )


def _due_config_ids(database: str, config_ids: set[int]) -> list[int]:
    """The numbers whose last-webhook time is older than LAST_WEBHOOK_EVERY in this process."""
    now = time.monotonic()
    due = [
        c
        for c in config_ids
        if now - _last_webhook_sent.get((database, c), 0.0) >= LAST_WEBHOOK_EVERY
    ]
    for c in due:
        _last_webhook_sent[(database, c)] = now
    return due
