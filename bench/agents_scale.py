"""Many agents: provisioning time, a per-agent migration over all of them, latency at few vs many agents."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
from psycopg.rows import dict_row

from bench import env
from bench.agents_spread import run_spread, spread_rows
from bench.fixtures import Agent, bench_numbers, bench_users, build_payloads, make_agents
from bench.inbox_scale import http_times
from bench.load import open_loop
from bench.report import row

SIZES: dict[str, dict[str, Any]] = {
    # agents with numbers, agents provisioned for the target, the most agents, time budget to grow
    "full": {
        "few": 10,
        "provision": 1000,
        "one_by_one": 50,
        "many": 5000,
        "cache_agents": 1000,
        "grow_budget_s": 60,
        "rate": 200,
        "seconds": 5,
        "http_runs": 100,
        "latency_rounds": 2,
        "spread_webhooks": 6000,
        "spread_rate": 300,
        "spread_reads": 20,
    },
    "quick": {
        "few": 10,
        "provision": 100,
        "one_by_one": 10,
        "many": 300,
        "cache_agents": 100,
        "grow_budget_s": 40,
        "rate": 100,
        "seconds": 3,
        "http_runs": 30,
        "latency_rounds": 2,
        "spread_webhooks": 1500,
        "spread_rate": 150,
        "spread_reads": 5,
    },
    "tiny": {
        "few": 2,
        "provision": 4,
        "one_by_one": 1,
        "many": 8,
        "cache_agents": 4,
        "grow_budget_s": 20,
        "rate": 50,
        "seconds": 1,
        "http_runs": 5,
        "latency_rounds": 1,
        "spread_webhooks": 60,
        "spread_rate": 30,
        "spread_reads": 2,
    },
}


def _step_sql(version: int, column: str, definition: str) -> str:
    """A per-agent step (a test migration) adding `column` to every agent's customers."""
    return f"""
CREATE OR REPLACE FUNCTION wacrm_agent_step_{version}(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS {column} {definition}', p || '_customers');
END $$;
INSERT INTO agent_schema_steps (version, function_name, description)
VALUES ({version}, 'wacrm_agent_step_{version}', 'benchmark: add a column to every agent''s customers');
"""


STEP_SQL = _step_sql(9000, "bench_note", "text")


def migrate_all(
    url: str, version: int, column: str, definition: str, *, forget: bool
) -> dict[str, Any]:
    """A test migration over every agent through `wacrm.db.migrate.migrate`, timed and counted.

    With `forget`, its schema_migrations row is deleted afterwards: the CRM refuses to start on a
    database holding a migration it does not know (its step stays registered, so agents created
    later get the column too).
    """
    from wacrm.db.migrate import Migration, discover, migrate

    t0 = time.perf_counter()
    applied = migrate(
        url,
        [
            *discover(),
            Migration(version, f"bench_{column}", _step_sql(version, column, definition)),
        ],
    )
    seconds = time.perf_counter() - t0
    with psycopg.connect(url) as conn:
        r = conn.execute(
            """SELECT (SELECT count(*) FROM agent_schema_applied WHERE version = %s),
                      (SELECT count(*) FROM agents),
                      (SELECT count(*) FROM pg_attribute WHERE attname = %s AND NOT attisdropped)""",
            (version, column),
        ).fetchone()
        if forget:
            conn.execute("DELETE FROM schema_migrations WHERE version = %s", (version,))
    assert r is not None
    return {
        "applied": [m.version for m in applied],
        "column": f"{column} {definition}",
        "seconds": round(seconds, 1),
        "agents_upgraded": r[0],
        "agents": r[1],
        "columns_added": r[2],
    }


async def _creator(conn: psycopg.AsyncConnection[Any]) -> Any:
    cur = await conn.execute("SELECT id FROM users ORDER BY created_at LIMIT 1")
    creator = await cur.fetchone()
    assert creator is not None
    return creator["id"]


async def _one_by_one(url: str, users: list[Any]) -> tuple[int, float]:
    """An agent for each user with `create_agent`, one transaction each; (made, seconds)."""
    from wacrm.agents.service import create_agent

    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        creator = await _creator(conn)
        started = time.perf_counter()
        for user in users:
            await create_agent(conn, created_by=creator, user_id=user)
        return len(users), time.perf_counter() - started


async def _provision(
    url: str,
    count: int,
    *,
    deadline: float | None = None,
    calls: list[tuple[int, float]],
    users: list[Any] | None = None,
) -> tuple[int, float, list[int]]:
    """Create up to `count` agents with `create_agents` (batches sized by the locks they hold,
    SESSIONS sessions as `wacrm agent import` uses by default).

    Returns (made, seconds, agents per transaction); `calls` gets (agents, seconds) per call. With
    a deadline, calls of at most 50 agents follow each other until the deadline has passed.
    """
    from wacrm.agents.service import AgentSpec, create_agents

    batches: list[int] = []
    made = 0
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        creator = await _creator(conn)
        started = time.perf_counter()
        while made < count and (deadline is None or time.monotonic() < deadline):
            n = count - made if deadline is None else min(50, count - made)
            t0 = time.perf_counter()
            rows = await create_agents(
                conn,
                created_by=creator,
                specs=[AgentSpec(user_id=users[made + k] if users else None) for k in range(n)],
                on_batch=lambda rows: batches.append(len(rows)),
                sessions=SESSIONS,
                connect=lambda: psycopg.AsyncConnection.connect(
                    url, row_factory=dict_row, autocommit=True
                ),
            )
            made += len(rows)
            calls.append((len(rows), time.perf_counter() - t0))
        return made, time.perf_counter() - started, batches


SESSIONS = 3  # `wacrm agent import --sessions` default


async def _users(url: str, first: int, count: int) -> list[Any]:
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        return await bench_users(conn, first, count)


async def _numbers(url: str, first: int, users: list[Any]) -> list[Agent]:
    """A number and a token for the agent of each user (the k-th gets number_fields(first + k))."""
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        cur = await conn.execute(
            "SELECT id, agent_prefix, user_id FROM agents WHERE user_id = ANY(%s)", (users,)
        )
        by_user = {r["user_id"]: r for r in await cur.fetchall()}
        return await bench_numbers(conn, first, [by_user[u] for u in users], token=True)


FILL_NOTE = (
    "provisioned with `create_agents` after the growth budget (same path, not timed against it)"
)


def _fill(url: str, count: int) -> dict[str, Any]:
    """Add `count` agents past the growth budget, to reach the count at which latency is compared.

    New agents' tables come from the template of the steps (migration 0038), whose cost hardly
    grows with the agents; the pg_dump copies used here before missed the agent id in the
    per-agent triggers of later steps (step 40's report triggers).
    """
    made, seconds, _ = asyncio.run(_provision(url, count, calls=[]))
    return {
        "created": made,
        "seconds": round(seconds, 1),
        "per_agent_ms": round(1000 * seconds / max(1, made), 1),
        "method": FILL_NOTE,
    }


def backend_memory(url: str) -> dict[str, Any]:
    """Unique memory (USS) of the database's client backends other than this one (the CRM's pool)."""
    import psutil

    with psycopg.connect(url) as conn:
        pids = [
            int(r[0])
            for r in conn.execute(
                """SELECT pid FROM pg_stat_activity WHERE datname = current_database()
                   AND backend_type = 'client backend' AND pid <> pg_backend_pid()"""
            ).fetchall()
        ]
    uss = []
    for pid in pids:
        try:
            uss.append(psutil.Process(pid).memory_full_info().uss)
        except (psutil.Error, OSError):
            continue
    if not uss:
        return {"backends": 0}
    return {
        "backends": len(uss),
        "max_uss_mib": round(max(uss) / 2**20, 1),
        "mean_uss_mib": round(sum(uss) / len(uss) / 2**20, 1),
    }


def cache_after_every_agent(url: str, limit: int) -> dict[str, Any]:
    """One backend reads an inbox-like page of up to `limit` agents: its memory before and after.

    A pooled backend of a busy CRM ends up having opened the tables of every agent it served;
    PostgreSQL keeps an entry per relation (relcache, catalogue caches) for the session's life.
    """
    from wacrm.agents.tables import AgentTables

    size_sql = "SELECT sum(total_bytes) FROM pg_backend_memory_contexts"  # the whole backend
    with psycopg.connect(url, autocommit=True) as conn:
        agents = conn.execute(
            "SELECT id, agent_prefix FROM agents ORDER BY id LIMIT %s", (limit,)
        ).fetchall()
        start = conn.execute(size_sql).fetchone()
        t0 = time.perf_counter()
        for agent_id, prefix in agents:
            t = AgentTables(agent_id, prefix)
            conn.execute(
                t.query(
                    """SELECT c.id, m.message FROM {customers} c
                       LEFT JOIN {messages} m ON m.id = c.last_message_id
                       WHERE EXISTS (SELECT 1 FROM {orders} o WHERE o.customer_id = c.id)
                       ORDER BY c.last_message_at DESC NULLS LAST, c.id DESC LIMIT 50"""
                )
            ).fetchall()
        seconds = time.perf_counter() - t0
        end = conn.execute(size_sql).fetchone()
    assert start is not None and end is not None
    n = max(1, len(agents))
    return {
        "agents": len(agents),
        "memory_mib_before": round(int(start[0]) / 2**20, 1),
        "memory_mib_after": round(int(end[0]) / 2**20, 1),
        "kib_per_agent": round((int(end[0]) - int(start[0])) / n / 1024, 1),
        "first_query_ms": round(1000 * seconds / n, 2),
    }


def sizes(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        row_ = conn.execute(
            """SELECT pg_database_size(current_database()),
                      (SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
                        JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = 'pg_catalog' AND c.relkind = 'r'),
                      (SELECT count(*) FROM agents),
                      (SELECT count(*) FROM pg_class)"""
        ).fetchone()
    assert row_ is not None
    return {
        "database_bytes": int(row_[0]),
        "catalog_bytes": int(row_[1]),
        "agents": int(row_[2]),
        "relations": int(row_[3]),
    }


async def _drain_journal(url: str) -> int:
    """Turn the journaled webhooks into customers and messages (deferred processing: the CRM runs
    without its in-process worker here); how many were processed."""
    from wacrm.db.pool import create_pool
    from wacrm.inbound.consumer import drain

    pool = create_pool(url, max_size=2, min_size=1, name="bench-drain")
    await pool.open()
    try:
        return await drain(pool)
    finally:
        await pool.close()


def latency(url: str, agents: list[Agent], size: dict[str, Any], seed: int) -> dict[str, Any]:
    """Webhook p50/p99 at a constant rate to the first agent, then its inbox's HTTP p95 (fresh server)."""
    warm = int(size["rate"])  # one second: the pool opens its connections before the measurement
    payloads = build_payloads(agents[:1], warm + int(size["rate"] * size["seconds"]), seed=seed)
    crm, base = env.start_crm(url)
    with crm:
        # A new connection's first query on `agents` loads its relation cache entry, with two
        # foreign-key triggers per agent (10,012 at 5,000 agents: 0.5 -> 10 ms once per connection).
        open_loop(f"{base}/webhooks/whatsapp", payloads[:warm], rate=size["rate"])
        hooks = open_loop(f"{base}/webhooks/whatsapp", payloads[warm:], rate=size["rate"])
        hooks["processed_after"] = asyncio.run(_drain_journal(url))
        with psycopg.connect(url) as conn:
            from wacrm.agents.tables import AgentTables

            t = AgentTables(agents[0].agent_id, agents[0].prefix)
            busy = conn.execute(
                t.query(
                    "SELECT id FROM {customers} ORDER BY last_message_at DESC NULLS LAST LIMIT 1"
                )
            ).fetchone()
        assert busy is not None
        pages = http_times(base, agents[0].token, busy[0], size["http_runs"])
        memory = backend_memory(url)
    return {"webhooks": hooks, "inbox_http": pages, "backend_memory": memory}


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the lowest webhook p99 and the one with the lowest inbox p95, and every figure."""
    hooks = min(runs, key=lambda r: r["webhooks"]["p99_ms"])
    inbox = min(runs, key=lambda r: r["inbox_http"]["inbox_first_page"]["p95_ms"])
    return {
        "webhooks": hooks["webhooks"],
        "inbox_http": inbox["inbox_http"],
        "backend_memory": max(
            (r["backend_memory"] for r in runs), key=lambda m: m.get("max_uss_mib") or 0
        ),
        "runs": [
            {
                "webhook_p99_ms": r["webhooks"]["p99_ms"],
                "webhook_p50_ms": r["webhooks"]["p50_ms"],
                "inbox_p95_ms": r["inbox_http"]["inbox_first_page"]["p95_ms"],
            }
            for r in runs
        ],
    }


def run(server: env.Server, size_name: str = "full") -> dict[str, Any]:
    size = SIZES[size_name]
    out: dict[str, Any] = {"size": size}
    with server.database("agents") as url:
        env.use_crm_settings(url)
        agents = make_agents(url, size["few"], token=True)
        few_sizes = sizes(url)
        # each agent gets a user (made before the timing) and, after it, a number
        users = asyncio.run(_users(url, size["few"], size["provision"] - size["few"]))
        sample, sample_s = asyncio.run(_one_by_one(url, users[: size["one_by_one"]]))
        made, seconds, batches = asyncio.run(
            _provision(url, len(users) - sample, calls=[], users=users[sample:])
        )
        made += sample
        seconds += sample_s
        out["provision"] = {
            "agents": made + size["few"],
            "created": made,
            "seconds": round(seconds, 1),
            "per_agent_ms": round(1000 * seconds / max(1, made), 1),
            "one_by_one": {
                "created": sample,
                "per_agent_ms": round(1000 * sample_s / max(1, sample), 1),
            },
            "batched_per_agent_ms": round(1000 * (seconds - sample_s) / max(1, made - sample), 1),
            "agents_per_transaction": sorted(set(batches)),
        }
        numbered = agents + asyncio.run(_numbers(url, size["few"], users))
        out["spread"] = run_spread(url, numbered, size)
        out["migration_first"] = [
            migrate_all(url, 9000, "bench_note", "text", forget=True),
            migrate_all(url, 9001, "bench_points", "integer NOT NULL DEFAULT 0", forget=True),
        ]
        target = size["many"] - made - size["few"]
        calls: list[tuple[int, float]] = []
        grown, grow_s, _ = asyncio.run(
            _provision(url, target, deadline=time.monotonic() + size["grow_budget_s"], calls=calls)
        )
        last_n, last_s = calls[-1] if calls else (0, 0.0)
        out["grow"] = {
            "created": grown,
            "seconds": round(grow_s, 1),
            "per_agent_ms": round(1000 * grow_s / max(1, grown), 1),
            "last_call_per_agent_ms": round(1000 * last_s / max(1, last_n), 1),
            "reached_agents": made + size["few"] + grown,
            "budget_s": size["grow_budget_s"],
            "reached_target": grown == target,
        }
        out["fill"] = _fill(url, target - grown) if grown < target else None
        many_sizes = sizes(url)
        out["cache"] = cache_after_every_agent(url, size["cache_agents"])
        # Latency with few vs many agents: a database of `few` agents made now, measured in turn
        # with this one (the machine's load moves more between minutes than these figures do).
        with server.database("agents_few") as small_url:
            small = make_agents(small_url, size["few"], token=True)
            runs: dict[str, list[dict[str, Any]]] = {"few": [], "many": []}
            for r in range(size["latency_rounds"]):
                runs["few"].append(latency(small_url, small, size, seed=10 + r))
                runs["many"].append(latency(url, agents, size, seed=20 + r))
        out["few"] = {"sizes": few_sizes, **_best(runs["few"])}
        out["many"] = {"sizes": many_sizes, **_best(runs["many"])}
        # last: the CRM refuses a database holding a migration it does not know
        out["migration"] = migrate_all(url, 9002, "bench_tag", "text", forget=False)
    few, many = out["few"], out["many"]
    n_many = many["sizes"]["agents"]
    added = n_many - few["sizes"]["agents"]
    out["per_agent"] = {
        "database_kib": round(
            (many["sizes"]["database_bytes"] - few["sizes"]["database_bytes"]) / added / 1024, 1
        ),
        "catalog_kib": round(
            (many["sizes"]["catalog_bytes"] - few["sizes"]["catalog_bytes"]) / added / 1024, 1
        ),
        "relations": round((many["sizes"]["relations"] - few["sizes"]["relations"]) / added, 1),
    }
    out["rows"] = rows(out)
    return out


def rows(out: dict[str, Any]) -> list[dict[str, Any]]:
    p, m, g = out["provision"], out["migration"], out["grow"]
    few, many = out["few"], out["many"]
    n_few, n_many = few["sizes"]["agents"], many["sizes"]["agents"]
    fill = out.get("fill")
    if g["reached_target"]:
        scaled = ""
    elif fill:
        scaled = (
            f"Agents {g['reached_agents'] + 1}-{n_many} {fill['method']} "
            f"({fill['per_agent_ms']} ms each): provisioning stopped at its {g['budget_s']} s "
            f"budget at {g['reached_agents']} agents, {g['last_call_per_agent_ms']} ms per agent there."
        )
    else:
        scaled = (
            f"Scaled down: growth stopped at its {g['budget_s']} s budget "
            f"({g['created']} agents in {g['seconds']} s), target {out['size']['many']}"
        )
    wh = (
        round(many["webhooks"]["p99_ms"] / few["webhooks"]["p99_ms"], 2)
        if few["webhooks"]["p99_ms"]
        else None
    )
    ib = (
        round(
            many["inbox_http"]["inbox_first_page"]["p95_ms"]
            / few["inbox_http"]["inbox_first_page"]["p95_ms"],
            2,
        )
        if few["inbox_http"]["inbox_first_page"]["p95_ms"]
        else None
    )
    c, mem_few, mem_many = out["cache"], few["backend_memory"], many["backend_memory"]
    per_txn = p["agents_per_transaction"]
    return spread_rows(out["spread"]) + [
        row(
            f"Provision {p['agents']} agents (`create_agents`, {SESSIONS} sessions, "
            f"{min(per_txn)}-{max(per_txn)} per transaction)",
            p["seconds"],
            "s",
            25,
            "<=",
            note=f"{p['per_agent_ms']} ms per agent ({p['batched_per_agent_ms']} batched; "
            f"{p['one_by_one']['per_agent_ms']} one by one, first {p['one_by_one']['created']}); "
            f"then {g['created']} more in {g['seconds']} s ({g['per_agent_ms']} ms each, "
            f"{g['last_call_per_agent_ms']} ms at {g['reached_agents']} agents)",
        ),
        *(
            row(
                f"Per-agent migration over {x['agents']} agents: ADD COLUMN {x['column']}",
                x["seconds"],
                "s",
                60,
                "<=",
                note=f"{x['agents_upgraded']} agents upgraded, {x['columns_added']} columns added"
                + (
                    "; a column with a DEFAULT makes PostgreSQL 15.20 read every expression index "
                    "of the database per table: its cost per agent grows with the agents"
                    if "DEFAULT" in x["column"]
                    else ""
                ),
            )
            for x in [*out["migration_first"], m]
        ),
        row(
            f"Webhook p99 ratio, {n_many} agents / {n_few} agents",
            wh,
            "",
            1.2,
            "<=",
            note=f"best p99 of {len(few['runs'])} runs each, alternated: "
            f"{few['webhooks']['p99_ms']} → {many['webhooks']['p99_ms']} ms at "
            f"{few['webhooks']['offered_per_second']:.0f}/s (every run: "
            f"{[r['webhook_p99_ms'] for r in few['runs']]} → "
            f"{[r['webhook_p99_ms'] for r in many['runs']]}). {scaled}",
        ),
        row(
            f"Inbox HTTP p95 ratio, {n_many} agents / {n_few} agents",
            ib,
            "",
            1.2,
            "<=",
            note=f"best p95 of the alternated runs {few['inbox_http']['inbox_first_page']['p95_ms']} → "
            f"{many['inbox_http']['inbox_first_page']['p95_ms']} ms (every run: "
            f"{[r['inbox_p95_ms'] for r in few['runs']]} → {[r['inbox_p95_ms'] for r in many['runs']]})",
        ),
        row(
            "Database size per agent (empty tables)",
            out["per_agent"]["database_kib"],
            "KiB",
            None,
            None,
            note=f"{out['per_agent']['relations']} relations per agent; "
            f"{many['sizes']['database_bytes'] / 2**30:.2f} GiB at {n_many} agents",
        ),
        row(
            "Catalog size per agent",
            out["per_agent"]["catalog_kib"],
            "KiB",
            None,
            None,
            note=f"{many['sizes']['catalog_bytes'] / 2**20:.0f} MiB of catalogue at {n_many} agents",
        ),
        row(
            f"Backend memory after reading {c['agents']} agents' tables (one connection)",
            c["memory_mib_after"],
            "MiB",
            None,
            None,
            note=f"{c['memory_mib_before']} MiB before, {c['kib_per_agent']} KiB per agent "
            f"(relation and catalogue caches kept for the session); first query of an agent "
            f"{c['first_query_ms']} ms; CRM backends after the latency runs: "
            f"{mem_few.get('max_uss_mib')} MiB ({n_few} agents) → {mem_many.get('max_uss_mib')} MiB "
            f"({n_many}) max USS",
        ),
    ]
