"""Provisioning cost per agent at growing agent counts: replayed steps (before 0038) vs the template.

At each level, batches of agents are made alternately by the two paths in one database (the old
path: agents rows, then `wacrm_upgrade_agent` replaying every step; the new one: `create_agents`,
i.e. `wacrm_provision_agent` from the template); the database backend's CPU (from /proc, so the
server must run on this machine) and the wall time per agent, medians per path. Between levels the
database is grown with the new path. Usage:

    python -m bench.agents_provision_ab postgresql://postgres@127.0.0.1:5432/postgres 200 1000 2000
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

BATCH = 10  # agents per measured transaction
ROUNDS = 3  # alternated batches per path and level
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    """utime + stime of a local process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def _replayed(conn: Any, creator: Any, n: int) -> None:
    """The path before 0038: rows inserted, then every step replayed for each agent."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (0x7761_6372_6D00_0001,))
        cur = await conn.execute(
            """INSERT INTO agents (id, agent_prefix, created_by)
               SELECT i, 'agt_' || i, %s
               FROM (SELECT nextval('agents_id_seq') AS i FROM generate_series(1, %s)) s
               RETURNING id""",
            (creator, n),
        )
        ids = [r["id"] for r in await cur.fetchall()]
        await conn.execute(
            "SELECT count(wacrm_upgrade_agent(id)) FROM unnest(%s::bigint[]) AS id", (ids,)
        )


async def _template(conn: Any, creator: Any, n: int) -> None:
    await create_agents(conn, created_by=creator, specs=[AgentSpec() for _ in range(n)])


async def measure(url: str, levels: list[int]) -> dict[str, Any]:
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        cur = await conn.execute(
            "INSERT INTO users (name, email, role) VALUES ('b', 'b@example.com', 'admin') RETURNING id"
        )
        creator = (await cur.fetchone())["id"]
        cur = await conn.execute("SELECT pg_backend_pid() AS pid")
        pid = (await cur.fetchone())["pid"]
        await _template(conn, creator, 1)  # the template is built once (not measured)
        out: dict[str, Any] = {}
        for level in levels:
            cur = await conn.execute("SELECT count(*) AS n FROM agents")
            have = (await cur.fetchone())["n"]
            if have < level:
                await create_agents(
                    conn, created_by=creator, specs=[AgentSpec() for _ in range(level - have)]
                )
            runs: dict[str, list[tuple[float, float]]] = {"replayed": [], "template": []}
            for _ in range(ROUNDS):
                for name, path in (("replayed", _replayed), ("template", _template)):
                    cpu0, t0 = _cpu_s(pid), time.perf_counter()
                    await path(conn, creator, BATCH)
                    runs[name].append(
                        (
                            1000 * (_cpu_s(pid) - cpu0) / BATCH,
                            1000 * (time.perf_counter() - t0) / BATCH,
                        )
                    )
            out[str(level)] = {
                name: {
                    "cpu_ms": round(statistics.median(r[0] for r in rs), 1),
                    "wall_ms": round(statistics.median(r[1] for r in rs), 1),
                    "runs_cpu_ms": [round(r[0], 1) for r in rs],
                }
                for name, rs in runs.items()
            }
            out[str(level)]["load"] = os.getloadavg()[0]
            print(level, json.dumps(out[str(level)]), flush=True)
        return out


def main() -> None:
    server, levels = sys.argv[1], [int(x) for x in sys.argv[2:]] or [200, 1000, 2000]
    name = f"bench_ab_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(server, dbname=name)
    try:
        migrate(url)
        print(json.dumps(asyncio.run(measure(url, levels))))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
