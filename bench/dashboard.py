"""Server-side render time of the dashboard page (p50/p95), one large agent and "all agents".

    python bench/dashboard.py [--database-url URL] [--runs 30] [--customers 20000 --messages 400000
        --orders 50000] [--small-agents 2]

Without --database-url it makes a throw-away database (bench/env.py) and seeds, with
bench/seed_data.py, one large agent first (the admin's default workspace) and --small-agents
agents of a tenth of its size. With --database-url it reuses the agents already there (seeding is
slow: the orders' totals triggers dominate it). Each figure is the wall time of a full
`GET /dashboard` through the ASGI app in-process (routing, session, the report's queries on the
pool, the Jinja2 render), signed in as an admin, after a warm-up; p50/p95 over --runs requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.env import postgres  # noqa: E402
from bench.seed_data import seed  # noqa: E402

PASSWORD = "bench dashboard password 1"
CASES = [
    ("7 days", {"days": "7"}),
    ("30 days", {"days": "30"}),
    ("90 days", {"days": "90"}),
    ("all agents, 30 days", {"days": "30", "agents": "all"}),
    ("all agents, 90 days", {"days": "90", "agents": "all"}),
]


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def _admin(url: str) -> str:
    from wacrm.accounts.service import create_user

    email = f"dash-{uuid.uuid4().hex[:8]}@example.com"
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        await create_user(conn, email=email, name="Bench admin", role="admin", password=PASSWORD)
    return email


async def measure(url: str, runs: int) -> dict[str, Any]:
    from wacrm.app import create_app
    from wacrm.config import Settings

    settings = Settings(
        WACRM_ENV="test",
        WACRM_DATA_DIR=Path(tempfile.mkdtemp(prefix="wacrm-dash-")),
        WACRM_SECRET_KEY="bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        WACRM_RUN_WORKER=False,
        WACRM_PUBLIC_URL="http://testserver",
    )
    email = await _admin(url)
    app = create_app(settings, database_url=url)
    out: dict[str, Any] = {}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http,
    ):
        login = await http.post("/login", data={"email": email, "password": PASSWORD})
        assert login.status_code == 303, login.text
        for name, params in CASES:
            samples = []
            for i in range(runs + 3):  # three warm-up requests (plans, caches)
                start = time.perf_counter()
                page = await http.get("/dashboard", params=params)
                elapsed = (time.perf_counter() - start) * 1000
                assert page.status_code == 200, page.text[:300]
                if i >= 3:
                    samples.append(elapsed)
            out[name] = {
                "p50_ms": round(statistics.median(samples), 1),
                "p95_ms": round(_pct(samples, 0.95), 1),
                "runs": runs,
            }
            print(name, out[name], file=sys.stderr)
    return out


def _agents(url: str) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute("SELECT id, agent_prefix FROM agents ORDER BY id").fetchall()


def run(args: argparse.Namespace, url: str, seeded: bool) -> dict[str, Any]:
    if seeded:
        seed(url, customers=args.customers, messages=args.messages, orders=args.orders)
        for k in range(args.small_agents):
            seed(
                url,
                customers=args.customers // 10,
                messages=args.messages // 10,
                orders=args.orders // 10,
                rng_seed=2 + k,
            )
    agents = _agents(url)
    sizes = {}
    with psycopg.connect(url) as conn:
        for a in agents:
            row = conn.execute(
                psycopg.sql.SQL("SELECT count(*) FROM {}").format(
                    psycopg.sql.Identifier(a["agent_prefix"] + "_messages")
                )
            ).fetchone()
            sizes[a["agent_prefix"]] = row[0] if row else 0
    return {
        "agents": sizes,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "figures": asyncio.run(measure(url, args.runs)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="reuse this seeded database")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--messages", type=int, default=400_000)
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--small-agents", type=int, default=2)
    args = parser.parse_args(argv)
    if args.database_url:
        result = run(args, args.database_url, seeded=False)
    else:
        with postgres() as server, server.database("dashboard") as url:
            result = run(args, url, seeded=True)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
