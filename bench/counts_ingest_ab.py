"""What the kept counts' triggers (migration 0115), or the inbox keys' trigger on customers
(migration 0125, `--keys`), cost the inbound write path: A/B in one run.

    python -m bench.counts_ingest_ab [--reopen] [--keys] [--rounds 16]

Batches of 50 signed webhooks (bench/fixtures.py: ~85 % text, ~5 % media, ~10 % statuses) go
through wacrm.inbound.ingest.ingest, one transaction each, for 2 agents and 3,000 customers;
rounds of 1,000 webhooks alternate ABBA between the count triggers enabled (A) and disabled (B)
on a fresh database. `--reopen` resolves every conversation before each round, so each inbound
message reopens one (the row trigger's worst case). `--keys` toggles the trigger that copies a
customer's status, assignee and last activity to its label and mention rows instead, with a label
on a quarter of the customers and a mention on 1 % after the warm-up. Prints the median per arm
and A/B.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from typing import Any

import psycopg
from psycopg.rows import dict_row

from bench import env, fixtures
from wacrm.agents.tables import AgentTables
from wacrm.inbound.ingest import ingest
from wacrm.inbound.routing import RouteCache

PER_ROUND, BATCH, WARM_UP = 1000, 50, 2000
TRIGGERS = ("counts_insert", "counts_update", "counts_delete")
KEYS = ("inbox_keys",)


async def _triggers(
    conn: Any, tables: list[AgentTables], on: bool, names: tuple[str, ...] = TRIGGERS
) -> None:
    verb = "ENABLE" if on else "DISABLE"
    for t in tables:
        for name in names:
            await conn.execute(t.query(f"ALTER TABLE {{customers}} {verb} TRIGGER {name}"))


async def _resolve_all(conn: Any, tables: list[AgentTables], counted: bool) -> None:
    """Every conversation resolved (the counts not kept meanwhile: only the timing matters)."""
    for t in tables:
        await conn.execute(t.query("ALTER TABLE {customers} DISABLE TRIGGER counts_update"))
        await conn.execute(t.query("UPDATE {customers} SET conversation_status = 'resolved'"))
        if counted:
            await conn.execute(t.query("ALTER TABLE {customers} ENABLE TRIGGER counts_update"))
    await conn.execute("VACUUM ANALYZE")


async def _measure(url: str, tables: list[AgentTables], datas: list[Any], args: Any) -> dict:
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        routes = RouteCache()

        async def run(chunk: list[Any]) -> float:
            t0 = time.perf_counter()
            for i in range(0, len(chunk), BATCH):
                async with conn.transaction():
                    await ingest(conn, chunk[i : i + BATCH], routes)
            return time.perf_counter() - t0

        await run(datas[:WARM_UP])  # most customers exist after it
        names = KEYS if args.keys else TRIGGERS
        if args.keys:
            await _label_some(conn, tables)
        times: dict[str, list[float]] = {"A": [], "B": []}
        for r, arm in enumerate("ABBA" * (args.rounds // 4)):
            await _triggers(conn, tables, arm == "A", names)
            if args.reopen:
                await _resolve_all(conn, tables, arm == "A")
            chunk = datas[WARM_UP + r * PER_ROUND : WARM_UP + (r + 1) * PER_ROUND]
            times[arm].append(await run(chunk))
        await _triggers(conn, tables, True, names)
    return times


async def _label_some(conn: Any, tables: list[AgentTables]) -> None:
    """A label on a quarter of the customers, a note mentioning the owner on 1 %."""
    for t in tables:
        cur = await conn.execute(
            "INSERT INTO workspace_labels (agent_id, name, color) VALUES (%s, 'vip', '#d4a017')"
            " RETURNING id",
            (t.agent_id,),
        )
        label = (await cur.fetchone())["id"]
        await conn.execute(
            t.query(
                "INSERT INTO {conversation_labels} (customer_id, label_id)"
                " SELECT id, %s FROM {customers} WHERE id %% 4 = 0"
            ),
            (label,),
        )
        await conn.execute(
            t.query(
                "INSERT INTO {notes} (customer_id, body, mentions) SELECT c.id, 'call back',"
                " ARRAY[a.user_id] FROM {customers} c, agents a WHERE a.id = %s AND c.id %% 100 = 1"
            ),
            (t.agent_id,),
        )
    await conn.execute("VACUUM ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reopen", action="store_true", help="every message reopens one")
    parser.add_argument("--keys", action="store_true", help="the inbox keys' trigger (0125)")
    parser.add_argument("--rounds", type=int, default=16, help="a multiple of 4")
    args = parser.parse_args()
    with env.postgres() as server, server.database("counts_ab") as url:
        env.use_crm_settings(url)
        agents = fixtures.make_agents(url, 2, token=False)
        tables = [AgentTables(a.agent_id, a.prefix) for a in agents]
        payloads = fixtures.build_payloads(
            agents, WARM_UP + args.rounds * PER_ROUND, customers=3000
        )
        datas = [json.loads(p.body) for p in payloads]
        times = asyncio.run(_measure(url, tables, datas, args))
    a, b = statistics.median(times["A"]), statistics.median(times["B"])
    print(
        f"{'reopen' if args.reopen else 'plain'}: load {os.getloadavg()[0]:.1f}; "
        f"{PER_ROUND} webhooks a round in batches of {BATCH}; median A "
        f"({'keys' if args.keys else 'counts'} kept) "
        f"{a * 1000:.0f} ms, B (triggers off) {b * 1000:.0f} ms, A/B {a / b:.3f}"
    )
    print(
        "rounds A",
        [round(x * 1000) for x in times["A"]],
        "B",
        [round(x * 1000) for x in times["B"]],
    )


if __name__ == "__main__":
    main()
