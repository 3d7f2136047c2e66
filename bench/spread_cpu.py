"""Drain of a journal backlog spread over many agents vs a few, CPU per webhook, one database.

    python bench/spread_cpu.py --url postgresql://postgres@127.0.0.1:5432/test \\
        --db spread_1000 --agents 1000 --few 10 --webhooks 6000 --rounds 2 [--keep] [--statements]

The database `--db` is made once (migrated, `--agents` agents each with a number) and kept with
`--keep` (else dropped at the end). Per round and case (the first `--few` agents, then all of
them, alternated): `webhooks` payloads of bench.fixtures round-robin over the case's agents are
journaled as 'received' in ONE transaction while a fresh `wacrm webhooks process` waits, then
drained. Figures: rate (commit of the journal rows to the last one processed), CPU of the
processor and of the server's backends per webhook (the server's CPU is read from its
postmaster, exited children included, when the server is on this machine and nothing else uses
it: a private server), and with `--statements` the top statements of pg_stat_statements.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import psycopg
import psycopg.rows
from psycopg.conninfo import make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import env  # noqa: E402
from bench.fixtures import (  # noqa: E402
    Agent,
    build_payloads,
    make_agents,
    make_agents_bulk,
    number_fields,
)
from bench.ingest_cpu import journal_all  # noqa: E402

FIRST_NUMBER = int(number_fields(0)["phone_number_id"])


def ensure_database(server_url: str, name: str, agents: int, few: int) -> str:
    url = make_conninfo(server_url, dbname=name)
    with psycopg.connect(server_url, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            admin.execute(
                psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name))
            )
    env.use_crm_settings(url)
    if not exists:
        from wacrm.db.migrate import migrate

        migrate(url)
        make_agents(url, few, token=False)
        if agents > few:
            make_agents_bulk(url, agents - few, first=few)
    return url


def load_agents(url: str) -> list[Agent]:
    """The database's agents with their numbers, in the order they were made."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """SELECT a.id, a.agent_prefix, a.user_id, w.phone_number_id
               FROM agents a JOIN whatsapp_configuration w ON w.user_id = a.user_id
               ORDER BY w.phone_number_id::bigint"""
        ).fetchall()
    out = []
    for agent_id, prefix, user_id, pid in rows:
        f = number_fields(int(pid) - FIRST_NUMBER)
        out.append(Agent(agent_id, prefix, user_id, "", **f))
    return out


def with_tokens(url: str, agents: list[Agent]) -> list[Agent]:
    """The agents with a new API token each (for the inbox reads of the live case)."""
    from dataclasses import replace

    from wacrm.accounts.tokens import create_token

    async def made() -> list[Agent]:
        async with await psycopg.AsyncConnection.connect(
            url, autocommit=True, row_factory=psycopg.rows.dict_row
        ) as conn:
            return [
                replace(a, token=await create_token(conn, user_id=a.user_id, name="spread"))
                for a in agents
            ]

    return asyncio.run(made())


def live(url: str, agents: list[Agent], args: argparse.Namespace) -> dict[str, Any]:
    """The agents benchmark's spread case (bench/agents_spread.py) on this database."""
    import bench.agents_spread
    from bench.agents_scale import SIZES
    from bench.agents_spread import run_spread

    size = {**SIZES["full"], "few": args.few, "spread_webhooks": args.webhooks}
    extra = dict(kv.split("=", 1) for kv in args.env)
    bench.agents_spread.env.start_processor = lambda db_url: env.Process(  # type: ignore[attr-defined]
        [*env.WACRM, "webhooks", "process"], env.crm_env(db_url, **extra), "journal-processor"
    )
    out = run_spread(url, with_tokens(url, agents), size)
    for case in ("few", "many"):
        out[case] = {
            k: out[case][k]
            for k in (
                "agents",
                "processed_per_second",
                "drained_after_s",
                "intake_s",
                "webhook_p99_ms",
                "exact",
                "journal",
                "backend_memory_peak_mib",
                "backends_at_peak",
                "redelivered",
            )
        }
    return out


def server_cpu(url: str) -> float | None:
    """CPU seconds of the server's processes, exited ones included (a local private server)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    try:
        post = psutil.Process(row[0]).parent()
    except psutil.Error:
        return None
    if post is None:
        return None
    t = post.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in post.children():
        try:
            c = child.cpu_times()
            total += c.user + c.system
        except psutil.Error:
            continue
    return total


def _waiting(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM webhook_journal WHERE status = 'received'"
        ).fetchone()
    return int(row[0]) if row else 0


def _reset_statements(url: str) -> bool:
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute("SELECT pg_stat_statements_reset()")
        return True
    except psycopg.Error:
        return False


def _top_statements(url: str, n: int = 15) -> list[dict[str, Any]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """SELECT regexp_replace(left(query, 90), '\\s+', ' ', 'g'), sum(calls),
                      round(sum(total_plan_time)::numeric, 1), round(sum(total_exec_time)::numeric, 1),
                      count(*)
               FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database
                                                     WHERE datname = current_database())
               GROUP BY 1 ORDER BY sum(total_plan_time + total_exec_time) DESC LIMIT %s""",
            (n,),
        ).fetchall()
    return [
        {
            "query": r[0],
            "calls": int(r[1]),
            "plan_ms": float(r[2]),
            "exec_ms": float(r[3]),
            "texts": int(r[4]),
        }
        for r in rows
    ]


def run_case(
    url: str, name: str, agents: list[Agent], args: argparse.Namespace, seed: int
) -> dict[str, Any]:
    payloads = build_payloads(agents, args.webhooks, seed=seed)
    extra = dict(kv.split("=", 1) for kv in args.env)
    proc = env.Process(
        [*env.WACRM, "webhooks", "process"], env.crm_env(url, **extra), f"spread-{name}"
    )
    with proc:
        time.sleep(3)
        if proc.popen.poll() is not None:
            raise RuntimeError(proc.tail())
        statements = args.statements and _reset_statements(url)
        p0, d0 = psutil.Process(proc.pid).cpu_times(), server_cpu(url)
        load = os.getloadavg()[0]
        asyncio.run(journal_all(url, payloads))
        d_journal = server_cpu(url)
        t0 = time.monotonic()
        while _waiting(url):
            if time.monotonic() - t0 > 900:
                raise RuntimeError(f"not drained in 900 s:\n{proc.tail()}")
            time.sleep(0.05)
        wall = time.monotonic() - t0
        p1, d1 = psutil.Process(proc.pid).cpu_times(), server_cpu(url)
        load_end = os.getloadavg()[0]
        top = _top_statements(url) if statements else []
    n = len(payloads)
    out: dict[str, Any] = {
        "case": name,
        "agents": len(agents),
        "webhooks": n,
        "rate": round(n / wall, 1),
        "processor_ms": round(1000 * (p1.user + p1.system - p0.user - p0.system) / n, 3),
        "load": [round(load, 1), round(load_end, 1)],
    }
    if d0 is not None and d1 is not None and d_journal is not None:
        out["server_ms"] = round(1000 * (d1 - d_journal) / n, 3)
    if top:
        out["statements"] = top
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default=env.DEFAULT_SERVER)
    ap.add_argument("--db", default="spread_bench")
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--few", type=int, default=10)
    ap.add_argument("--webhooks", type=int, default=6000)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--only", choices=["few", "many"], default=None)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for the processor")
    ap.add_argument("--statements", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--live", action="store_true", help="the agents benchmark's spread case")
    args = ap.parse_args()
    url = ensure_database(args.url, args.db, args.agents, args.few)
    agents = load_agents(url)
    print(json.dumps({"agents": len(agents)}), flush=True)
    try:
        for r in range(args.rounds if not args.live else 0):
            for name, subset in (("few", agents[: args.few]), ("many", agents)):
                if args.only and name != args.only:
                    continue
                out = run_case(url, name, subset, args, seed=1000 * r + len(subset) + os.getpid())
                print(json.dumps(out), flush=True)
        for _r in range(args.rounds if args.live else 0):
            out = live(url, agents, args)
            print(json.dumps({**out, "load": os.getloadavg()}), flush=True)
    finally:
        if not args.keep:
            with psycopg.connect(args.url, autocommit=True) as admin:
                admin.execute(
                    psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        psycopg.sql.Identifier(args.db)
                    )
                )


if __name__ == "__main__":
    main()
