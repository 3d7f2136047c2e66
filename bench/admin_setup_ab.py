"""The admin benchmark's setup, one commit per item vs chunked transactions, alternated (A/B).

    python -m bench.admin_setup_ab NAME ROUNDS N

A fresh database NAME on the machine's server (dropped at the end): 2 × ROUNDS × N agents from
the template, then per round N users, their numbers and the traffic of N agents made each way
in turn; the time per item of each way and the ratio of their sums.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from bench import admin_pages, fixtures
from bench.env import DEFAULT_SERVER, use_crm_settings


async def _traffic(conn: psycopg.AsyncConnection[Any], agents: list[Any], chunk: int) -> None:
    for k in range(0, len(agents), chunk):
        async with conn.transaction():
            for t in agents[k : k + chunk]:
                await admin_pages._one_customer(conn, t)


async def _run(url: str, rounds: int, n: int) -> dict[str, dict[int, list[float]]]:
    from wacrm.agents.service import AgentSpec, create_agents
    from wacrm.agents.tables import AgentTables

    res: dict[str, dict[int, list[float]]] = {
        "users": {1: [], 100: []},
        "numbers": {1: [], 100: []},
        "traffic": {1: [], 20: []},
    }

    async def connect() -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(url, row_factory=dict_row, autocommit=True)

    async with await connect() as conn:
        cur = await conn.execute("SELECT id FROM users LIMIT 1")
        admin = (await cur.fetchone())["id"]
        made = await create_agents(
            conn,
            created_by=admin,
            specs=[AgentSpec()] * (2 * rounds * n),
            sessions=3,
            connect=connect,
        )
        tables = [AgentTables(a["id"], a["agent_prefix"]) for a in made]
        first = 0
        for _ in range(rounds):
            for chunk in (1, 100):
                fixtures.SETUP_CHUNK = chunk
                t = time.perf_counter()
                users = await fixtures.bench_users(conn, first, n)
                res["users"][chunk].append(time.perf_counter() - t)
                t = time.perf_counter()
                owners = [{"id": 0, "agent_prefix": "x", "user_id": u} for u in users]
                await fixtures.bench_numbers(conn, first, owners, token=False)
                res["numbers"][chunk].append(time.perf_counter() - t)
                first += n
            for chunk in (1, 20):
                part, tables = tables[:n], tables[n:]
                t = time.perf_counter()
                await _traffic(conn, part, chunk)
                res["traffic"][chunk].append(time.perf_counter() - t)
    return res


def main() -> None:
    name, rounds, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with psycopg.connect(DEFAULT_SERVER, autocommit=True) as c:
        c.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    url = make_conninfo(DEFAULT_SERVER, dbname=name)
    try:
        from wacrm.db.migrate import migrate

        migrate(url)
        use_crm_settings(url)
        asyncio.run(admin_pages._admin(url))
        for what, by in asyncio.run(_run(url, rounds, n)).items():
            (a, old), (b, new) = by.items()
            print(
                f"{what} ms per item: chunk {a} {[round(1000 * x / n, 1) for x in old]}, "
                f"chunk {b} {[round(1000 * x / n, 1) for x in new]}, "
                f"ratio of sums {sum(new) / sum(old):.2f}"
            )
    finally:
        with psycopg.connect(DEFAULT_SERVER, autocommit=True) as c:
            c.execute(
                psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    psycopg.sql.Identifier(name)
                )
            )


if __name__ == "__main__":
    main()
