"""Set-based processing of a batch of webhooks: a few statements per agent instead of a few per message.

Per batch ONE statement takes the phone numbers' advisory locks; per agent ONE identity statement
(`customers.resolve_senders`) and ONE statement that inserts the messages (a JSON array of rows),
writes the senders' profile fields and the customers' counters (from the insert's RETURNING), applies
the statuses and sends one event per stored message and per status change (one more statement per
repeated wamid's further statuses). A webhook with a rare kind of message (system
identity change, order, reaction) or one that cannot be processed is handled by `process_payload`
in its place in the batch, after the set-based statements of the webhooks before it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson
from psycopg import AsyncConnection

from wacrm.agents.tables import AgentTables
from wacrm.customers import service as customers
from wacrm.inbound.processing import (
    STATUSES,
    RouteSource,
    _contact_for,
    media_job,
    message_fields,
    payload_changes,
    process_payload,
    validate_payload,
)
from wacrm.inbound.routing import Route
from wacrm.inbound.schemas import Value, to_datetime

RARE_KINDS = frozenset({"system", "order", "reaction"})

_NOTIFY = (
    "pg_notify('wacrm_events', json_build_object('agent_id', %s::bigint, 'kind', '{kind}',"
    " 'customer_id', {alias}.customer_id, 'message_id', {alias}.id, 'order_id', NULL::int)::text)"
)
# the statuses of one round: applied where they raise a message's status, kept as early statuses
# where the message is not there (yet); `upd` returns the changed messages
_STATUS_CTES = """s AS (
      SELECT * FROM json_to_recordset(%s::json)
        AS s(wamid text, status text, ts timestamptz, code int, title text, details text)
    ), upd AS (
      UPDATE {messages} m SET status = s.status, status_at = s.ts,
        error_code = CASE WHEN s.status = 'failed' THEN s.code ELSE m.error_code END,
        error_title = CASE WHEN s.status = 'failed' THEN s.title ELSE m.error_title END,
        error_details = CASE WHEN s.status = 'failed' THEN s.details ELSE m.error_details END
      FROM s WHERE m.wamid = s.wamid AND m.wamid = ANY (ARRAY(SELECT wamid FROM s))
        AND wacrm_status_rank(s.status) > wacrm_status_rank(m.status)
      RETURNING m.id, m.customer_id
    ), early AS (
      INSERT INTO inbound_early_statuses (agent_id, wamid, status, status_at, error_code,
                                          error_title, error_details)
      SELECT %s, s.wamid, s.status, s.ts, s.code, s.title, s.details FROM s
      WHERE (SELECT e.id FROM {messages} e WHERE e.wamid = s.wamid LIMIT 1) IS NULL
      ON CONFLICT DO NOTHING
    )"""
# messages, the senders' profile fields, the customers' counters and the first round of statuses
# of one agent's part of a batch: ONE statement (one snapshot: the customers exist already, made
# by the identity statement before it; no row is touched twice: one UPDATE of each customer)
_MESSAGES = (
    """
    WITH x AS (
      SELECT * FROM json_to_recordset(%s::json) AS x(o int, phone text, bsuid text, text text,
        ts timestamptz, media_type text, caption text, wamid text, wa_type text, context text,
        media_id text, mime text, sha256 text, size bigint, filename text, media_status text,
        raw jsonb)
    ), pr AS (
      SELECT q.id,
        (array_agg(q.name ORDER BY q.o DESC) FILTER (WHERE q.name IS NOT NULL))[1] AS name,
        (array_agg(q.username ORDER BY q.o DESC) FILTER (WHERE q.username IS NOT NULL))[1]
          AS username,
        (array_agg(q.parent ORDER BY q.o DESC) FILTER (WHERE q.parent IS NOT NULL))[1] AS parent
      FROM (
        SELECT CASE WHEN p.bsuid IS NOT NULL
                    THEN (SELECT e.id FROM {customers} e WHERE e.bsuid = p.bsuid LIMIT 1)
                    ELSE (SELECT e.id FROM {customers} e WHERE e.phone = p.phone LIMIT 1) END AS id,
          p.o, p.name, p.username, p.parent
        FROM json_to_recordset(%s::json)
          AS p(o int, phone text, bsuid text, name text, username text, parent text)
      ) q WHERE q.id IS NOT NULL GROUP BY q.id
    ), ins AS (
      INSERT INTO {messages} (customer_id, message, direction, "timestamp", is_read, media_type,
        caption, wamid, wa_type, status, status_at, context_wamid, media_id, media_mime_type,
        media_sha256, media_size, media_filename, media_status, raw)
      SELECT CASE WHEN x.bsuid IS NOT NULL
                  THEN (SELECT id FROM {customers} WHERE bsuid = x.bsuid)
                  ELSE (SELECT id FROM {customers} WHERE phone = x.phone) END,
        x.text, 'inbound', x.ts, false, x.media_type::media_type, x.caption, x.wamid, x.wa_type,
        'received', x.ts, x.context, x.media_id, x.mime, x.sha256, x.size, x.filename,
        x.media_status, x.raw::jsonb
      FROM x ORDER BY x.o
      ON CONFLICT (wamid) DO NOTHING
      RETURNING id, customer_id, "timestamp"
    ), agg AS (
      SELECT customer_id, count(*) AS n, max("timestamp") AS ts,
             (array_agg(id ORDER BY "timestamp" DESC, id DESC))[1] AS last_id
      FROM ins GROUP BY customer_id
    ), t AS (
      SELECT coalesce(agg.customer_id, pr.id) AS id, agg.n, agg.ts, agg.last_id,
             pr.name, pr.username, pr.parent
      FROM agg FULL JOIN pr ON pr.id = agg.customer_id
    ), cu AS (
      UPDATE {customers} c SET unread_count = c.unread_count + coalesce(t.n, 0),
        last_message_at = greatest(c.last_message_at, t.ts),
        last_inbound_at = greatest(c.last_inbound_at, t.ts),
        last_message_id = CASE WHEN t.ts IS NOT NULL
                                    AND (c.last_message_at IS NULL OR t.ts >= c.last_message_at)
                               THEN t.last_id ELSE c.last_message_id END,
        name = CASE WHEN c.name_by_agent THEN c.name ELSE coalesce(t.name, c.name) END,
        profile_name = coalesce(t.name, c.profile_name),
        username = coalesce(t.username, c.username),
        parent_bsuid = coalesce(t.parent, c.parent_bsuid),
        updated_at = now()
      FROM t WHERE c.id = t.id
        AND c.id = ANY (ARRAY(SELECT id FROM t))  -- index probes, never a table scan
        AND (t.n IS NOT NULL  -- profile fields are written only where they change something
          OR (t.name IS NOT NULL AND t.name IS DISTINCT FROM c.profile_name)
          OR (t.name IS NOT NULL AND c.name_by_agent IS NOT TRUE AND t.name IS DISTINCT FROM c.name)
          OR (t.username IS NOT NULL AND t.username IS DISTINCT FROM c.username)
          OR (t.parent IS NOT NULL AND t.parent IS DISTINCT FROM c.parent_bsuid))
    ), """
    + _STATUS_CTES
    + """, ev AS (
      SELECT 'message' AS kind, 0 AS k, id, customer_id FROM ins
      UNION ALL SELECT 'status', 1, id, customer_id FROM upd
    )
    SELECT pg_notify('wacrm_events', json_build_object('agent_id', %s::bigint, 'kind', ev.kind,
      'customer_id', ev.customer_id, 'message_id', ev.id, 'order_id', NULL::int)::text)
    FROM ev ORDER BY ev.k, ev.id"""
)
# a further round of statuses (one per repeated wamid in the batch, so that they apply in order)
_STATUSES = (
    "WITH "
    + _STATUS_CTES
    + """
    SELECT """
    + _NOTIFY.format(kind="status", alias="upd")
    + " FROM upd"
)


def _json(rows: list[dict[str, Any]]) -> str:
    """Rows as one JSON parameter (orjson: far cheaper than psycopg dumping arrays element by element)."""
    return orjson.dumps(rows).decode()


@lru_cache(maxsize=4096)
def _sql(tables: AgentTables) -> tuple[str, str]:
    return tables.query(_MESSAGES).as_string(None), tables.query(_STATUSES).as_string(None)


@dataclass
class _Agent:
    """What a segment of the batch holds for one agent."""

    tables: AgentTables
    agent_id: int
    people: list[customers.Person] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    wamids: set[str] = field(default_factory=set)
    statuses: list[list[dict[str, Any]]] = field(default_factory=list)  # rounds, one per repeat
    senders: customers.Senders | None = None


def _rows(
    route: Route, value: Value, raw_value: dict[str, Any]
) -> list[tuple[customers.Person, dict[str, Any]]] | None:
    """The message rows of one change (None: a message that needs `process_payload`)."""
    rows: list[tuple[customers.Person, dict[str, Any]]] = []
    contacts = value.contacts or []
    for msg, raw in zip(value.messages or [], raw_value.get("messages") or [], strict=True):
        kind = msg.type or "unknown"
        if kind in RARE_KINDS or not msg.id:
            return None
        contact = _contact_for(msg, contacts)
        wa_id = msg.from_ or (contact.wa_id if contact else None)
        bsuid = msg.from_user_id or (contact.user_id if contact else None) or None
        phone = customers.e164(wa_id)
        if phone is None and bsuid is None:
            return None
        profile = contact.profile if contact and contact.profile else None
        parent = (contact.parent_user_id if contact else None) or msg.parent_user_id
        person = (
            wa_id,
            bsuid,
            profile.name if profile else None,
            profile.username if profile else None,
            parent,
        )
        fields = message_fields(msg, raw, to_datetime(msg.timestamp))
        rows.append((person, {"phone": phone, "bsuid": bsuid, **fields, "raw": raw}))
    return rows


class _Segment:
    def __init__(self) -> None:
        self.agents: dict[int, _Agent] = {}

    def add(
        self,
        route: Route,
        value: Value,
        rows: list[tuple[customers.Person, dict[str, Any]]],
        media_jobs: list[dict[str, Any]],
    ) -> None:
        assert route.tables is not None and route.agent_id is not None
        agent = self.agents.get(route.agent_id)
        if agent is None:
            agent = self.agents[route.agent_id] = _Agent(route.tables, route.agent_id)
        for person, row in rows:
            agent.people.append(person)
            # a repeated wamid is stored once (ON CONFLICT would skip it too)
            if row["wamid"] not in agent.wamids:
                agent.wamids.add(row["wamid"])
                row["o"] = len(agent.messages)
                agent.messages.append(row)
            if row["media_status"] == "pending":
                media_jobs.append(media_job(route, row))
        for st in value.statuses or []:
            if not st.id or st.status not in STATUSES:
                continue
            err = st.errors[0] if st.errors else None
            row = {
                "wamid": st.id,
                "status": st.status,
                "ts": to_datetime(st.timestamp),
                "code": err.code if err else None,
                "title": err.title if err else None,
                "details": err.details if err else None,
            }
            for rnd in agent.statuses:  # statuses of one wamid apply in order: one per round
                if all(s["wamid"] != st.id for s in rnd):
                    rnd.append(row)
                    break
            else:
                agent.statuses.append([row])

    async def flush(self, conn: AsyncConnection[Any]) -> None:
        """Per batch ONE lock statement; per agent ONE identity statement and ONE statement for
        messages, profiles, counters and statuses (more only for a wamid's repeated statuses)."""
        agents = [self.agents[agent_id] for agent_id in sorted(self.agents)]
        self.agents = {}
        keys: list[int] = []
        for agent in agents:
            agent.senders = customers.fold_senders(agent.people)
            keys += agent.senders.lock_keys(agent.tables)
        await customers.lock_phones(conn, keys)  # in key order: no deadlock between batches
        for agent in agents:
            assert agent.senders is not None
            messages_sql, statuses_sql = _sql(agent.tables)
            await customers.resolve_senders(conn, agent.tables, agent.senders)
            profiles = agent.senders.profiles()
            first = agent.statuses[0] if agent.statuses else []
            if agent.messages or profiles or first:
                await conn.execute(
                    messages_sql,
                    (
                        _json(agent.messages),
                        _json([dict(p, o=i) for i, p in enumerate(profiles)]),
                        _json(first),
                        agent.agent_id,
                        agent.agent_id,
                    ),
                    prepare=True,
                )
            for rnd in agent.statuses[1:]:
                await conn.execute(
                    statuses_sql, (_json(rnd), agent.agent_id, agent.agent_id), prepare=True
                )


async def process_batch(
    conn: AsyncConnection[Any], datas: Sequence[Any], routes: RouteSource
) -> tuple[set[int], list[dict[str, Any]]]:
    """Process decoded payloads in the caller's transaction; (configuration ids, media jobs).

    Raises like `process_payload` when any payload cannot be processed.
    """
    config_ids: set[int] = set()
    media_jobs: list[dict[str, Any]] = []
    segment = _Segment()
    for i, data in enumerate(datas):
        if i % 16 == 15:
            await asyncio.sleep(0)  # a long batch must not hold up the event loop's other work
        changes = await payload_changes(conn, data, validate_payload(data), routes)
        planned = [(route, value, _rows(route, value, raw)) for route, value, raw in changes]
        if any(rows is None for _, _, rows in planned):
            await segment.flush(conn)  # statements stay in the order of the webhooks
            out = await process_payload(conn, data=data, routes=routes, enqueue_jobs=False)
            config_ids |= out.config_ids
            media_jobs += out.media_jobs
            continue
        for route, value, rows in planned:
            assert rows is not None
            config_ids.add(route.config_id)
            segment.add(route, value, rows, media_jobs)
    await segment.flush(conn)
    return config_ids, media_jobs
