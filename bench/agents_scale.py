"""Many agents: provisioning time, a per-agent migration over all of them, latency at few vs many agents."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
from psycopg.rows import dict_row

from bench import env
from bench.fixtures import Agent, build_payloads, make_agents
from bench.inbox_scale import http_times
from bench.load import open_loop
from bench.report import row

SIZES: dict[str, dict[str, Any]] = {
    # agents with numbers, agents provisioned for the target, the most agents, time budget to grow
    "full": {
        "few": 10,
        "provision": 1000,
        "many": 5000,
        "grow_budget_s": 150,
        "rate": 200,
        "seconds": 5,
        "http_runs": 100,
    },
    "quick": {
        "few": 10,
        "provision": 100,
        "many": 300,
        "grow_budget_s": 40,
        "rate": 100,
        "seconds": 3,
        "http_runs": 30,
    },
    "tiny": {
        "few": 2,
        "provision": 4,
        "many": 8,
        "grow_budget_s": 20,
        "rate": 50,
        "seconds": 1,
        "http_runs": 5,
    },
}

STEP_SQL = """
CREATE OR REPLACE FUNCTION wacrm_agent_step_9000(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS bench_note text', p || '_customers');
END $$;
INSERT INTO agent_schema_steps (version, function_name, description)
VALUES (9000, 'wacrm_agent_step_9000', 'benchmark: add a column to every agent''s customers');
"""


async def _provision(url: str, count: int, *, deadline: float | None = None) -> tuple[int, float]:
    """Create up to `count` agents (tables provisioned) one after the other; (made, seconds)."""
    from wacrm.agents.service import create_agent

    made = 0
    started = time.perf_counter()
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        cur = await conn.execute("SELECT id FROM users ORDER BY created_at LIMIT 1")
        creator = await cur.fetchone()
        assert creator is not None
        while made < count and (deadline is None or time.monotonic() < deadline):
            await create_agent(conn, created_by=creator["id"])
            made += 1
    return made, time.perf_counter() - started


def sizes(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        row_ = conn.execute(
            """SELECT pg_database_size(current_database()),
                      (SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
                        JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = 'pg_catalog' AND c.relkind = 'r'),
                      (SELECT count(*) FROM agents)"""
        ).fetchone()
    assert row_ is not None
    return {"database_bytes": int(row_[0]), "catalog_bytes": int(row_[1]), "agents": int(row_[2])}


def latency(url: str, agents: list[Agent], size: dict[str, Any], seed: int) -> dict[str, Any]:
    """Webhook p50/p99 at a constant rate to the first agent, then its inbox's HTTP p95 (fresh server)."""
    payloads = build_payloads(agents[:1], int(size["rate"] * size["seconds"]), seed=seed)
    crm, base = env.start_crm(url)
    with crm:
        open_loop(f"{base}/webhooks/whatsapp", payloads[:20], rate=size["rate"])  # warm-up
        hooks = open_loop(f"{base}/webhooks/whatsapp", payloads[20:], rate=size["rate"])
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
    return {"webhooks": hooks, "inbox_http": pages}


def run(server: env.Server, size_name: str = "full") -> dict[str, Any]:
    from wacrm.db.migrate import Migration, discover, migrate

    size = SIZES[size_name]
    out: dict[str, Any] = {"size": size}
    with server.database("agents") as url:
        env.use_crm_settings(url)
        agents = make_agents(url, size["few"], token=True)
        out["few"] = {"sizes": sizes(url), **latency(url, agents, size, seed=1)}
        made, seconds = asyncio.run(_provision(url, size["provision"] - size["few"]))
        out["provision"] = {
            "agents": made + size["few"],
            "created": made,
            "seconds": round(seconds, 1),
            "per_agent_ms": round(1000 * seconds / max(1, made), 1),
        }
        target = size["many"] - made - size["few"]
        grown, grow_s = asyncio.run(
            _provision(url, target, deadline=time.monotonic() + size["grow_budget_s"])
        )
        out["grow"] = {
            "created": grown,
            "seconds": round(grow_s, 1),
            "budget_s": size["grow_budget_s"],
            "reached_target": grown == target,
        }
        out["many"] = {"sizes": sizes(url), **latency(url, agents, size, seed=2)}
        # last: the CRM refuses a database holding a migration it does not know (9000)
        t0 = time.perf_counter()
        applied = migrate(url, [*discover(), Migration(9000, "bench_agent_column", STEP_SQL)])
        mig_seconds = time.perf_counter() - t0
        with psycopg.connect(url) as conn:
            r = conn.execute(
                "SELECT count(*) FILTER (WHERE schema_version >= 9000), count(*) FROM agents"
            ).fetchone()
            cols = conn.execute(
                "SELECT count(*) FROM pg_attribute WHERE attname = 'bench_note' AND NOT attisdropped"
            ).fetchone()
        assert r is not None and cols is not None
        out["migration"] = {
            "applied": [m.version for m in applied],
            "seconds": round(mig_seconds, 1),
            "agents_upgraded": r[0],
            "agents": r[1],
            "columns_added": cols[0],
        }
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
    }
    out["rows"] = rows(out)
    return out


def rows(out: dict[str, Any]) -> list[dict[str, Any]]:
    p, m, g = out["provision"], out["migration"], out["grow"]
    few, many = out["few"], out["many"]
    n_few, n_many = few["sizes"]["agents"], many["sizes"]["agents"]
    scaled = (
        ""
        if g["reached_target"]
        else (
            f"scaled down: growth stopped at its {g['budget_s']} s budget "
            f"({g['created']} agents in {g['seconds']} s), target {out['size']['many']}"
        )
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
    return [
        row(
            f"Provision {p['agents']} agents (sequential)",
            p["seconds"],
            "s",
            60,
            "<=",
            note=f"{p['per_agent_ms']} ms per agent",
        ),
        row(
            f"Per-agent migration over {m['agents']} agents",
            m["seconds"],
            "s",
            60,
            "<=",
            note=f"{m['agents_upgraded']} agents upgraded, {m['columns_added']} columns added",
        ),
        row(
            f"Webhook p99 ratio, {n_many} agents / {n_few} agents",
            wh,
            "",
            1.2,
            "<=",
            note=f"p99 {few['webhooks']['p99_ms']} → {many['webhooks']['p99_ms']} ms at "
            f"{few['webhooks']['offered_per_second']:.0f}/s. {scaled}",
        ),
        row(
            f"Inbox HTTP p95 ratio, {n_many} agents / {n_few} agents",
            ib,
            "",
            1.2,
            "<=",
            note=f"p95 {few['inbox_http']['inbox_first_page']['p95_ms']} → "
            f"{many['inbox_http']['inbox_first_page']['p95_ms']} ms",
        ),
        row(
            "Database size per agent (empty tables)",
            out["per_agent"]["database_kib"],
            "KiB",
            None,
            None,
        ),
        row("Catalog size per agent", out["per_agent"]["catalog_kib"], "KiB", None, None),
    ]
