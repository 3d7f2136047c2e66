"""Memory of the orders CSV export for many orders (run by hand, not a test).

    .venv/bin/python bench/export_memory.py [--orders 100000] [--items 2]

Uses BENCH_DATABASE_URL (a maintenance database on a server where it may create and drop a
database of its own) or else an embedded PostgreSQL in a temporary folder. It loads the orders
with set-based SQL (totals maintained by the triggers), then streams the export exactly as
GET /api/v1/orders/export.csv does, and reports rows, bytes, time and the process's resident memory before and at its highest during
the stream, then streams it again under tracemalloc for the Python heap peak.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

import psutil
import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from wacrm.agents.service import create_agent
from wacrm.agents.tables import AgentTables
from wacrm.db.migrate import migrate
from wacrm.db.pool import create_pool
from wacrm.orders import export


async def load(url: str, n_orders: int, n_items: int) -> AgentTables:
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        cur = await conn.execute(
            "INSERT INTO users (name, email, role) VALUES ('bench', 'bench@example.com', 'admin') RETURNING id"
        )
        user = (await cur.fetchone())["id"]
        agent = await create_agent(conn, created_by=user)
        t = AgentTables(agent["id"], agent["agent_prefix"])
        await conn.execute(
            t.query(
                "INSERT INTO {customers} (name, phone) SELECT 'Customer ' || g, (15550000000 + g)::text"
                " FROM generate_series(1, 1000) g"
            )
        )
        async with conn.transaction():
            await conn.execute(
                t.query(
                    "INSERT INTO {orders} (customer_id, notes, shipping_address)"
                    " SELECT 1 + g %% 1000, 'note ' || g, g || ' Long Street, Some Town'"
                    " FROM generate_series(1, %s) g"
                ),
                (n_orders,),
            )
            await conn.execute(
                t.query(
                    "INSERT INTO {orders_items} (order_id, name, quantity, price)"
                    " SELECT o.id, 'Product ' || k, k, (o.id %% 500) + 0.99"
                    " FROM {orders} o, generate_series(1, %s) k"
                ),
                (n_items,),
            )
        return t


async def stream(url: str, tables: AgentTables, *, trace: bool) -> dict[str, float]:
    proc = psutil.Process()
    pool = create_pool(url, max_size=2, min_size=1)
    await pool.open()
    agent = {"id": tables.agent_id, "agent_prefix": tables.prefix}
    rss_before = proc.memory_info().rss
    rss_peak = rss_before
    if trace:
        tracemalloc.start()
    lines = size = 0
    started = time.perf_counter()
    async for chunk in export.stream_csv(pool, kind="orders", targets=[(agent, tables)]):
        size += len(chunk)
        lines += chunk.count(b"\r\n")
        rss_peak = max(rss_peak, proc.memory_info().rss)
    elapsed = time.perf_counter() - started
    _, heap_peak = tracemalloc.get_traced_memory() if trace else (0, 0)
    tracemalloc.stop()
    await pool.close()
    return {
        "lines": lines,
        "bytes": size,
        "seconds": elapsed,
        "heap_peak_mib": heap_peak / 2**20,
        "rss_before_mib": rss_before / 2**20,
        "rss_peak_mib": rss_peak / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=2)
    args = parser.parse_args()
    handle = None
    server = os.environ.get("BENCH_DATABASE_URL")
    if not server:
        from wacrm.db.embedded import start_embedded

        server, handle = start_embedded(Path(tempfile.mkdtemp(prefix="wacrm-bench-")))
    name = f"wacrm_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(server, dbname=name)
    try:
        migrate(url)
        t0 = time.perf_counter()
        tables = asyncio.run(load(url, args.orders, args.items))
        print(
            f"loaded {args.orders} orders x {args.items} items in {time.perf_counter() - t0:.1f} s"
        )
        plain = asyncio.run(stream(url, tables, trace=False))
        print(
            f"exported {plain['lines'] - 1} lines, {plain['bytes'] / 2**20:.1f} MiB in {plain['seconds']:.1f} s;"
            f" RSS {plain['rss_before_mib']:.1f} MiB before, {plain['rss_peak_mib']:.1f} MiB at most"
        )
        traced = asyncio.run(stream(url, tables, trace=True))
        print(f"again under tracemalloc: Python heap peak {traced['heap_peak_mib']:.2f} MiB")
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        del handle


if __name__ == "__main__":
    main()
