"""Provisioning with 1, 2 or 3 sessions (`create_agents(sessions=N)`), alternated in one database.

Rounds of `per_round` agents are made by each setting in turn while the database grows to the
target; the wall time per agent, medians per setting, and the load average. Usage:

    python -m bench.agents_sessions_ab postgresql://postgres@127.0.0.1:5432/postgres 1000 48 1,2,3
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row

from wacrm.agents.service import AgentSpec, create_agents
from wacrm.db.migrate import migrate


async def _connect(url: str) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(url, row_factory=dict_row, autocommit=True)


async def measure(url: str, target: int, per_round: int, settings: list[int]) -> dict[str, Any]:
    async with await _connect(url) as conn:
        cur = await conn.execute(
            "INSERT INTO users (name, email, role) VALUES ('b', 'b@example.com', 'admin') RETURNING id"
        )
        creator = (await cur.fetchone())["id"]
        await create_agents(conn, created_by=creator, specs=[AgentSpec()])  # the template, built
        walls: dict[int, list[float]] = {n: [] for n in settings}
        loads: list[float] = []
        made = 1
        while made < target:
            for n in settings:
                t0 = time.perf_counter()
                await create_agents(
                    conn,
                    created_by=creator,
                    specs=[AgentSpec() for _ in range(per_round)],
                    sessions=n,
                    connect=lambda: _connect(url),
                )
                walls[n].append(1000 * (time.perf_counter() - t0) / per_round)
                made += per_round
            loads.append(os.getloadavg()[0])
            print(made, {n: round(w[-1], 1) for n, w in walls.items()}, loads[-1], flush=True)
    first = walls[settings[0]]
    return {
        "agents": made,
        "per_round": per_round,
        "load_average": [min(loads), max(loads)],
        "ms_per_agent": {
            str(n): {
                "median": round(statistics.median(w), 1),
                "ratio_to_first": round(
                    statistics.median(b / a for a, b in zip(first, w, strict=True)), 2
                ),
                "runs": [round(x, 1) for x in w],
            }
            for n, w in walls.items()
        },
    }


def main() -> None:
    server = sys.argv[1]
    target, per_round = int(sys.argv[2]), int(sys.argv[3])
    settings = [int(x) for x in sys.argv[4].split(",")] if len(sys.argv) > 4 else [1, 2, 3]
    name = f"bench_sessions_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(server, dbname=name)
    try:
        migrate(url)
        print(json.dumps(asyncio.run(measure(url, target, per_round, settings))))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
