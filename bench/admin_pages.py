"""Every page an admin opens, with few agents and with many (`python -m bench.run --only admin`).

One database: `few` agents (users, numbers, a little traffic each), the admin pages timed; then
agents added up to `many` (users, numbers and traffic the same way, the agents made in batches by
`create_agents` as `wacrm agent import` does), the rollup job's cycle timed, the pages timed again.
Pages are full GETs through the ASGI app in-process (session, queries on the pool, Jinja2), signed
in as an admin, after a warm-up: the all-agents dashboard (7 and 30 days), the agents page, users,
numbers, the webhook journal, and the all-orders CSV export read to its end.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from bench.env import Server
from bench.fixtures import make_agents, make_agents_bulk
from bench.report import row

SIZES = {
    "full": {"few": 10, "many": 1000, "runs": 20},
    "quick": {"few": 10, "many": 200, "runs": 10},
    "tiny": {"few": 3, "many": 12, "runs": 3},
}
PAGES = {
    "dashboard_all_7_days": "/dashboard?agents=all&days=7",
    "dashboard_all_30_days": "/dashboard?agents=all&days=30",
    "agents": "/admin/agents",
    "users": "/admin/users",
    "numbers": "/admin/numbers",
    "webhooks": "/admin/webhooks",
    "orders_export_all": "/api/v1/admin/orders/export.csv",
}
PASSWORD = "bench admin password 1"


async def _traffic(url: str, first: int) -> None:
    """Every agent from id `first` on: a customer writing yesterday, answered, with one order."""
    from wacrm.agents.tables import AgentTables
    from wacrm.orders import service as orders

    at = datetime.now(UTC) - timedelta(days=1)
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        cur = await conn.execute(
            "SELECT id, agent_prefix FROM agents WHERE id >= %s ORDER BY id", (first,)
        )
        for a in await cur.fetchall():
            t = AgentTables(a["id"], a["agent_prefix"])
            cur = await conn.execute(
                t.query("INSERT INTO {customers} (name, phone) VALUES ('Bench', %s) RETURNING id"),
                (f"+49151{a['id']:08d}",),
            )
            cid = (await cur.fetchone())["id"]
            await conn.execute(
                t.query(
                    'INSERT INTO {messages} (customer_id, message, direction, "timestamp")'
                    " VALUES (%s, 'hi', 'inbound', %s), (%s, 'hello', 'outbound', %s)"
                ),
                (cid, at, cid, at + timedelta(seconds=45)),
            )
            await orders.create_order(
                conn,
                tables=t,
                customer_id=cid,
                items=[{"name": "Tea", "quantity": 1, "price": "4"}],
            )


async def _cycle(url: str) -> float:
    from wacrm.reports import recent

    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        started = time.perf_counter()
        await recent.run_cycle(conn)
        return time.perf_counter() - started


async def _pages(url: str, runs: int) -> dict[str, dict[str, float]]:
    """p50/p95 (ms) of every admin page, the pages interleaved request by request."""
    from wacrm.app import create_app
    from wacrm.config import get_settings

    app = create_app(get_settings(), database_url=url)
    times: dict[str, list[float]] = {name: [] for name in PAGES}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", timeout=120
        ) as http:
            r = await http.post(
                "/api/v1/auth/login", json={"email": "admin@bench.example", "password": PASSWORD}
            )
            assert r.status_code == 200, r.text[:200]  # and the session cookie
            for n in range(runs + 2):  # two warm-up rounds
                for name, path in PAGES.items():
                    started = time.perf_counter()
                    r = await http.get(path)
                    body = r.content
                    elapsed = (time.perf_counter() - started) * 1000
                    assert r.status_code == 200 and body, (name, r.status_code, body[:200])
                    if n >= 2:
                        times[name].append(elapsed)
    return {
        name: {
            "p50_ms": round(statistics.median(t), 1),
            "p95_ms": round(sorted(t)[max(0, int(len(t) * 0.95 + 0.5) - 1)], 1),
        }
        for name, t in times.items()
    }


async def _admin(url: str) -> None:
    from wacrm.accounts.service import create_user

    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        await create_user(
            conn, email="admin@bench.example", name="Admin", role="admin", password=PASSWORD
        )


def run(server: Server, size_name: str = "full") -> dict[str, Any]:
    size = SIZES[size_name]
    out: dict[str, Any] = {"size": size}
    with server.database("admin") as url:
        from bench.env import use_crm_settings

        use_crm_settings(url)
        asyncio.run(_admin(url))
        make_agents(url, size["few"], token=False, concurrency=2)
        asyncio.run(_traffic(url, 0))
        out["few_cycle_s"] = round(asyncio.run(_cycle(url)), 2)
        out["few"] = asyncio.run(_pages(url, size["runs"]))
        started = time.perf_counter()
        made = make_agents_bulk(url, size["many"] - size["few"], first=size["few"])
        out["provision_s"] = round(time.perf_counter() - started, 1)
        asyncio.run(_traffic(url, made[0].agent_id))
        out["many_cycle_s"] = round(asyncio.run(_cycle(url)), 2)
        out["idle_cycle_s"] = round(asyncio.run(_cycle(url)), 2)
        out["many"] = asyncio.run(_pages(url, size["runs"]))
    out["rows"] = rows(out)
    return out


def rows(out: dict[str, Any]) -> list[dict[str, Any]]:
    few, many, size = out["few"], out["many"], out["size"]
    lines = []
    for name in PAGES:
        p95, base = many[name]["p95_ms"], few[name]["p95_ms"]
        lines.append(
            row(
                f"Admin page p95 with {size['many']} agents: {name}",
                p95,
                "ms",
                200 if name != "orders_export_all" else None,
                "<=" if name != "orders_export_all" else None,
                note=f"p50 {many[name]['p50_ms']} ms; with {size['few']} agents p95 {base} ms "
                f"(ratio {round(p95 / base, 2) if base else '–'})",
            )
        )
    lines.append(
        row(
            f"Dashboard rollup cycle, every agent counted ({size['many']} agents)",
            out["many_cycle_s"],
            "s",
            None,
            None,
            note=f"{out['idle_cycle_s']} s when no agent changed; {size['few']} agents: "
            f"{out['few_cycle_s']} s",
        )
    )
    return lines
