"""Creating agents: the `agents` rows and their tables, one agent or many per transaction.

Every agent's tables are defined by the per-agent steps (database/migrations/0003 and later). A new
agent's tables are created in their final shape from a template derived from those steps
(`wacrm_provision_agent`, migration 0038); tables taken over are upgraded by the steps. This module
only inserts rows, checks them, and calls the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.pq import TransactionStatus

from wacrm.agents.tables import AgentTables, validate_prefix
from wacrm.config import DEFAULT_CURRENCY
from wacrm.db.locks import CAPACITY_SQL, HELD_SQL, next_batch_size
from wacrm.errors import AppError
from wacrm.i18n.text import Text

PROVISIONING_LOCK = 0x7761_6372_6D00_0001  # pg_advisory_xact_lock key serialising provisioning
FIRST_BATCH = 8  # agents in the first transaction of create_agents; later ones sized by locks held
LARGEST_BATCH = 200


class AgentError(AppError, ValueError):
    """An agent cannot be created or changed as asked (the message says why; `status` for HTTP)."""


@dataclass(frozen=True)
class AgentSpec:
    """One agent to create: an optional user to link, table prefix (default agt_<id>), currency."""

    user_id: UUID | None = None
    prefix: str | None = None
    default_currency: str | None = None


def _check_list(specs: Sequence[AgentSpec]) -> None:
    """Valid prefixes, and no prefix or user twice in the list (before any SQL)."""
    prefixes: set[str] = set()
    users: set[UUID] = set()
    for spec in specs:
        if spec.prefix is not None:
            validate_prefix(spec.prefix)
            if spec.prefix in prefixes:
                raise AgentError(
                    Text("the prefix {prefix} is given twice", prefix=spec.prefix), status=409
                )
            prefixes.add(spec.prefix)
        if spec.user_id is not None:
            if spec.user_id in users:
                raise AgentError(
                    Text("the user {user_id} is given twice", user_id=spec.user_id), status=409
                )
            users.add(spec.user_id)


async def _check_database(conn: AsyncConnection[Any], specs: Sequence[AgentSpec]) -> None:
    """Users exist and have no agent yet; prefixes are free (race-free under the provisioning lock)."""
    user_ids = [s.user_id for s in specs if s.user_id is not None]
    if user_ids:
        cur = await conn.execute(
            """SELECT x.id, u.id IS NOT NULL AS found, a.agent_prefix
               FROM unnest(%s::uuid[]) WITH ORDINALITY AS x(id, o)
               LEFT JOIN users u ON u.id = x.id
               LEFT JOIN agents a ON a.user_id = x.id
               ORDER BY x.o""",
            (user_ids,),
        )
        for row in await cur.fetchall():
            if not row["found"]:
                raise AgentError(Text("no user with id {id}", id=row["id"]), status=404)
            if row["agent_prefix"] is not None:
                raise AgentError(
                    Text(
                        "this user is already linked to agent {agent_prefix}",
                        agent_prefix=row["agent_prefix"],
                    ),
                    status=409,
                )
    prefixes = [s.prefix for s in specs if s.prefix is not None]
    if prefixes:
        cur = await conn.execute(
            "SELECT agent_prefix FROM agents WHERE agent_prefix = ANY(%s)", (prefixes,)
        )
        taken = {r["agent_prefix"] for r in await cur.fetchall()}
        for prefix in prefixes:
            if prefix in taken:
                raise AgentError(
                    Text("an agent with prefix {prefix} already exists", prefix=prefix), status=409
                )


async def _takeover_versions(conn: AsyncConnection[Any], prefixes: list[str]) -> dict[str, int]:
    """For prefixes whose tables already exist (adoption): the step they are at (1, or 2 with history)."""
    if not prefixes:
        return {}
    cur = await conn.execute(
        """SELECT p,
                  CASE WHEN to_regclass('public.' || p || '_customers') IS NULL THEN 0
                       WHEN to_regclass('public.' || p || '_orders_history') IS NULL THEN 1
                       ELSE 2 END AS version
           FROM unnest(%s::text[]) AS p""",
        (prefixes,),
    )
    return {r["p"]: r["version"] for r in await cur.fetchall() if r["version"]}


async def _template(conn: AsyncConnection[Any]) -> dict[str, Any] | None:
    """The template of the current steps if new agents can be made from it in two phases."""
    cur = await conn.execute(
        "SELECT steps_key, steps, shared_statements FROM wacrm_agent_template()"
        " WHERE statements IS NOT NULL AND shared_statements IS NOT NULL"
    )
    row = await cur.fetchone()
    return dict(row) if row else None


async def _provision(
    conn: AsyncConnection[Any], created_by: UUID, specs: Sequence[AgentSpec], currency: str
) -> list[dict[str, Any]]:
    """Insert and provision `specs` in the caller's transaction.

    New agents are made in two phases (migration 0105): their own tables first, outside the
    provisioning lock (other sessions may provision at the same time), then under it their agents
    rows and the foreign keys to the tables all agents share. Tables taken over, or steps without
    a usable template, go through `wacrm_provision_agent` under the lock.
    """
    takeover = await _takeover_versions(conn, [s.prefix for s in specs if s.prefix is not None])
    tpl = await _template(conn)
    cur = await conn.execute(
        "SELECT nextval('agents_id_seq') AS id FROM generate_series(1, %s)", (len(specs),)
    )
    ids = [r["id"] for r in await cur.fetchall()]
    prefixes = [s.prefix or f"agt_{i}" for i, s in zip(ids, specs, strict=True)]
    fresh = [i for i, s in zip(ids, specs, strict=True) if tpl and s.prefix not in takeover]
    if fresh:
        try:
            async with conn.transaction():  # a savepoint: on a name taken, say by whom
                await conn.execute(
                    "SELECT count(wacrm_create_agent_tables(p, id, %s))"
                    " FROM unnest(%s::text[], %s::bigint[]) AS x(p, id)",
                    (tpl["steps_key"] if tpl else None, *_pairs(ids, prefixes, set(fresh))),
                )
        except (psycopg.errors.DuplicateTable, psycopg.errors.UniqueViolation):
            # an agent made meanwhile with one of these prefixes: 409; else a table that is
            # no agent's holds the name, and its error says which
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (PROVISIONING_LOCK,))
            await _check_database(conn, specs)
            raise
    # One provisioning at a time from here: two at once deadlocked on the foreign keys to `agents`
    # (each takes locks on shared tables in its own order); held until commit.
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (PROVISIONING_LOCK,))
    await _check_database(conn, specs)
    # Agents are inserted at the step their tables will have: a later UPDATE of an agents row
    # would run the foreign-key triggers of every agent.
    newest = max(tpl["steps"]) if tpl else await _fallback_version(conn)
    try:
        await conn.execute(
            """INSERT INTO agents (id, agent_prefix, user_id, created_by, schema_version, default_currency)
               SELECT s.id, s.prefix, s.user_id, %s, s.version, s.currency
               FROM unnest(%s::bigint[], %s::text[], %s::uuid[], %s::int[], %s::text[])
                    AS s(id, prefix, user_id, version, currency)""",
            (
                created_by,
                ids,
                prefixes,
                [s.user_id for s in specs],
                [takeover.get(s.prefix, newest) if s.prefix else newest for s in specs],
                [s.default_currency or currency for s in specs],
            ),
        )
    except psycopg.errors.UniqueViolation as exc:
        raise AgentError(
            Text("an agent with this prefix or user already exists"), status=409
        ) from exc
    for agent_id, spec in zip(ids, specs, strict=True):
        if spec.prefix in takeover:
            await conn.execute(
                AgentTables(agent_id, spec.prefix).query(
                    "ALTER TABLE {customers} ALTER COLUMN agent_id SET DEFAULT {aid};"
                    "UPDATE {customers} SET agent_id = {aid} WHERE agent_id IS DISTINCT FROM {aid}",
                    aid=sql.Literal(agent_id),
                )
            )
    if fresh:
        await conn.execute(
            "SELECT count(wacrm_attach_agent_tables(id, %s)) FROM unnest(%s::bigint[]) AS id",
            (tpl["steps_key"] if tpl else None, fresh),
        )
    rest = [i for i in ids if i not in set(fresh)]
    if rest:  # taken over (the steps), or no usable template: agent after agent in id order
        await conn.execute(
            "SELECT count(wacrm_provision_agent(id)) FROM unnest(%s::bigint[]) AS id", (rest,)
        )
    cur = await conn.execute("SELECT * FROM agents WHERE id = ANY(%s) ORDER BY id", (ids,))
    return [dict(r) for r in await cur.fetchall()]


def _pairs(ids: list[int], prefixes: list[str], keep: set[int]) -> tuple[list[str], list[int]]:
    chosen = [(p, i) for i, p in zip(ids, prefixes, strict=True) if i in keep]
    return [p for p, _ in chosen], [i for _, i in chosen]


async def _fallback_version(conn: AsyncConnection[Any]) -> int:
    """The step new agents are inserted at when their tables are made by `wacrm_provision_agent`."""
    cur = await conn.execute(
        "SELECT coalesce((SELECT max(s) FROM unnest(t.steps) s), 0) AS v"
        " FROM wacrm_agent_template() t WHERE t.statements IS NOT NULL"
    )
    row = await cur.fetchone()
    return int(row["v"]) if row else 0


async def _one(conn: AsyncConnection[Any], query: str) -> int:
    cur = await conn.execute(query)
    row = await cur.fetchone()
    assert row is not None
    return int(next(iter(row.values())))


async def create_agent(
    conn: AsyncConnection[Any],
    *,
    created_by: UUID,
    user_id: UUID | None = None,
    prefix: str | None = None,
    default_currency: str | None = None,
    fallback_currency: str = DEFAULT_CURRENCY,
) -> dict[str, Any]:
    """Insert an agent (the connection must use dict rows) and provision its tables (or take over existing tables for `prefix`).

    Runs inside the caller's transaction if there is one, else in its own: a failure leaves
    neither the row nor any table behind. The agent's currency is `default_currency`, else
    `fallback_currency` (entry points pass WACRM_DEFAULT_CURRENCY, `settings.default_currency`).
    """
    spec = AgentSpec(user_id=user_id, prefix=prefix, default_currency=default_currency)
    _check_list([spec])
    async with conn.transaction():
        (agent,) = await _provision(conn, created_by, [spec], fallback_currency)
    return agent


Connect = Callable[[], Awaitable[AsyncConnection[Any]]]


async def create_agents(
    conn: AsyncConnection[Any],
    *,
    created_by: UUID,
    specs: Sequence[AgentSpec],
    batch_size: int | None = None,
    on_batch: Callable[[list[dict[str, Any]]], None] | None = None,
    sessions: int = 1,
    connect: Connect | None = None,
    fallback_currency: str = DEFAULT_CURRENCY,
) -> list[dict[str, Any]]:
    """Create many agents (dict-row connection): checked first, then provisioned in batches
    (a spec without a currency gets `fallback_currency`, as in `create_agent`).

    Each batch is one transaction that takes the provisioning lock once and commits once. Without
    `batch_size`, a batch holds at most a quarter of the server's lock table (sized from the locks
    the previous batch held). Inside a caller's transaction everything is one batch. If a batch
    fails, the batches before it stay created (`on_batch` is called with each committed batch).
    With `sessions` > 1, that many connections (`conn` and more from `connect`, closed at the
    end) take batches in turn: their tables are built at the same time, their commits one by one.
    """
    specs = list(specs)
    _check_list(specs)
    if not specs:
        return []
    currency = fallback_currency
    in_callers_transaction = conn.info.transaction_status != TransactionStatus.IDLE
    async with conn.transaction():  # fail before creating anything (checked again per batch)
        await _check_database(conn, specs)
    if in_callers_transaction:
        async with conn.transaction():
            made = await _provision(conn, created_by, specs, currency)
        if on_batch:
            on_batch(made)
        return made
    if sessions > 1 and connect is None:
        raise ValueError("several sessions need `connect`")
    async with conn.transaction():
        await _template(conn)  # built now if missing, not by sessions racing
    run = _BatchRun(
        specs=specs,
        created_by=created_by,
        currency=currency,
        batch_size=batch_size,
        capacity=await _one(conn, CAPACITY_SQL) // max(1, sessions),
        on_batch=on_batch,
    )
    others = [await connect() for _ in range(sessions - 1)] if connect else []
    try:
        outcomes = await asyncio.gather(
            *(run.work(c) for c in [conn, *others]), return_exceptions=True
        )
    finally:
        for other in others:
            await other.close()
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return sorted(run.made, key=lambda a: a["id"])


@dataclass
class _BatchRun:
    """Batches of one create_agents call, taken in turn by its sessions."""

    specs: list[AgentSpec]
    created_by: UUID
    currency: str
    batch_size: int | None
    capacity: int
    on_batch: Callable[[list[dict[str, Any]]], None] | None
    taken: int = 0
    failed: bool = False
    made: list[dict[str, Any]] = field(default_factory=list)

    async def work(self, conn: AsyncConnection[Any]) -> None:
        size = self.batch_size or FIRST_BATCH
        while not self.failed and self.taken < len(self.specs):
            batch = self.specs[self.taken : self.taken + size]
            self.taken += len(batch)
            try:
                async with conn.transaction():
                    rows = await _provision(conn, self.created_by, batch, self.currency)
                    if self.batch_size is None:
                        held = await _one(conn, HELD_SQL)
                        size = next_batch_size(
                            capacity=self.capacity,
                            held=held,
                            done=len(batch),
                            largest=LARGEST_BATCH,
                        )
            except BaseException:
                self.failed = True
                raise
            self.made.extend(rows)
            if self.on_batch:
                self.on_batch(rows)
