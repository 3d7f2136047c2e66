"""Server-side render time of the dashboard page (p50/p95), one large agent and "all agents".

    python bench/dashboard.py [--database-url URL] [--runs 30] [--customers 20000 --messages 400000
        --orders 50000] [--small-agents 2]

Without --database-url it makes a throw-away database (bench/env.py) and seeds, with
bench/seed_data.py, one large agent first (the admin's default workspace) and --small-agents
agents of a tenth of its size. With --database-url it reuses the agents already there (seeding is
slow: the orders' totals triggers dominate it). Each figure is the wall time of a full
`GET /dashboard` through the ASGI app in-process (routing, session, the report's queries on the
pool, the Jinja2 render), signed in as an admin, after a warm-up; p50/p95 over --runs requests.
Two modes, their requests interleaved: "rollup" (settled days from the daily rollup, filled first
by the periodic job's `refresh_all`, timed) and "live" (every day counted from the messages, as
before the rollup is filled). `--modes rollup` measures one only.
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
from datetime import UTC, datetime, timedelta
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


def _custom_year() -> tuple[str, dict[str, str]]:
    """The longest period the page takes: custom dates, 366 days up to today."""
    today = datetime.now(UTC).date()
    start = today - timedelta(days=365)
    return "custom, 366 days", {
        "days": "custom",
        "from": start.isoformat(),
        "to": today.isoformat(),
    }


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


async def _fill_rollup(url: str) -> dict[str, Any]:
    """The periodic job's work on this database, from nothing (a fresh install's first run)."""
    from wacrm.reports import rollup

    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        await conn.execute("DELETE FROM report_agents")
        await conn.execute("DELETE FROM report_days")
        await conn.execute("DELETE FROM report_open_runs")
        start = time.perf_counter()
        cpu = time.process_time()
        agents = await rollup.refresh_all(conn)
        seconds = time.perf_counter() - start
        cur = await conn.execute(
            "SELECT count(*) AS days, sum(cardinality(response_seconds)) AS runs,"
            " pg_total_relation_size('report_days') AS bytes FROM report_days"
        )
        row = await cur.fetchone()
        again = time.perf_counter()
        await rollup.refresh_all(conn)  # nothing to do: the job's cost every five minutes
        return {
            "agents": agents,
            "seconds": round(seconds, 2),
            "client_cpu_seconds": round(time.process_time() - cpu, 2),
            "days": row["days"] if row else 0,
            "runs": int(row["runs"] or 0) if row else 0,
            "table_bytes": row["bytes"] if row else 0,
            "idle_run_ms": round((time.perf_counter() - again) * 1000, 1),
        }


async def measure(url: str, runs: int, modes: list[str]) -> dict[str, Any]:
    from wacrm.app import create_app
    from wacrm.config import Settings
    from wacrm.reports import service as reports

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
        login = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        pages: dict[str, str] = {}
        for name, params in [*CASES, _custom_year()]:
            samples: dict[str, list[float]] = {m: [] for m in modes}
            for i in range(runs + 3):  # three warm-up requests (plans, caches)
                for mode in modes:  # interleaved: the machine's load hits both alike
                    reports.USE_ROLLUP = mode == "rollup"
                    start = time.perf_counter()
                    page = await http.get("/dashboard", params=params)
                    elapsed = (time.perf_counter() - start) * 1000
                    assert page.status_code == 200, page.text[:300]
                    numbers = page.text[page.text.index('id="dashboard-numbers"') :]
                    numbers = numbers[: numbers.index("</div>\n</div>")]
                    assert pages.setdefault(name, numbers) == numbers, f"{name}: {mode} differs"
                    if i >= 3:
                        samples[mode].append(elapsed)
            out[name] = {
                mode: {
                    "p50_ms": round(statistics.median(s), 1),
                    "p95_ms": round(_pct(s, 0.95), 1),
                    "runs": runs,
                }
                for mode, s in samples.items()
            }
            print(name, out[name], os.getloadavg(), file=sys.stderr)
    reports.USE_ROLLUP = True
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
    modes = args.modes.split(",")
    rollup = asyncio.run(_fill_rollup(url)) if "rollup" in modes else None
    load = [round(x, 2) for x in os.getloadavg()]
    return {
        "agents": sizes,
        "rollup_fill": rollup,
        "load_average_at_start": load,
        "figures": asyncio.run(measure(url, args.runs, modes)),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="reuse this seeded database")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--messages", type=int, default=400_000)
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--small-agents", type=int, default=2)
    parser.add_argument("--modes", default="live,rollup", help="live, rollup or both (interleaved)")
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
