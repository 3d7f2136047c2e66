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
    "full": {"few": 10, "many": 1000, "runs": 20, "journal": 50_000},
    "quick": {"few": 10, "many": 200, "runs": 10, "journal": 10_000},
    "tiny": {"few": 3, "many": 12, "runs": 3, "journal": 500},
}
PAGES = {
    "dashboard_all_7_days": "/dashboard?agents=all&days=7",
    "dashboard_all_30_days": "/dashboard?agents=all&days=30",
    # the viewer's days (quarter-hour rollup, issue 17): a browser in Kolkata (+05:30)
    "dashboard_all_30_days_kolkata": "/dashboard?agents=all&days=30#tz=Asia/Kolkata",
    "agents": "/admin/agents",
    "agents_last_page": "/admin/agents?page=20",
    "users": "/admin/users",
    "users_last_page": "/admin/users?page=21",
    "numbers": "/admin/numbers",
    "numbers_last_page": "/admin/numbers?page=50",
    "webhooks": "/admin/webhooks",
    "webhooks_all": "/admin/webhooks?status=",
    "orders_export_all": "/api/v1/admin/orders/export.csv",
}
UNTIMED = ("orders_export_all",)  # a download, not a page: no goal, DOWNLOAD_RUNS times
DOWNLOAD_RUNS = 3  # (~6 s each with 1,000 agents: 20 runs were a third of the benchmark)
FAILED = 20  # failed rows of the webhook journal, the oldest (then SIZES' "journal" processed)
PASSWORD = "bench admin password 1"


TRAFFIC_SESSIONS = 3  # connections writing the traffic at once (the cost is per agent: the
# first use of its tables and triggers on a connection; a transaction per 20 agents did not help)


async def _traffic(url: str, first: int) -> None:
    """Every agent from id `first` on: a customer writing yesterday, answered, with one order."""
    from wacrm.agents.tables import AgentTables

    async def connect() -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(url, row_factory=dict_row, autocommit=True)

    async with await connect() as conn:
        cur = await conn.execute(
            "SELECT id, agent_prefix FROM agents WHERE id >= %s ORDER BY id", (first,)
        )
        agents = [AgentTables(a["id"], a["agent_prefix"]) for a in await cur.fetchall()]

    async def write(share: list[Any]) -> None:
        async with await connect() as conn:
            for t in share:
                await _one_customer(conn, t)

    await asyncio.gather(*(write(agents[k::TRAFFIC_SESSIONS]) for k in range(TRAFFIC_SESSIONS)))


async def _one_customer(conn: psycopg.AsyncConnection[Any], t: Any) -> None:
    from wacrm.orders import service as orders

    at = datetime.now(UTC) - timedelta(days=1)
    cur = await conn.execute(
        t.query("INSERT INTO {customers} (name, phone) VALUES ('Bench', %s) RETURNING id"),
        (f"+49151{t.agent_id:08d}",),
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
        conn, tables=t, customer_id=cid, items=[{"name": "Tea", "quantity": 1, "price": "4"}]
    )


async def _journal(url: str, processed: int = 50_000) -> None:
    """The webhook journal as after some traffic: FAILED failed webhooks, then `processed`
    processed ones (a page of failed rows must not walk past every newer one)."""
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(
            """INSERT INTO webhook_journal (phone_number_id, body, status, error, attempts,
                                            processed_at)
               SELECT '1000' || (n %% 1000), %s, 'failed', 'no such number', 3, NULL
               FROM generate_series(1, %s) n""",
            (body, FAILED),
        )
        await conn.execute(
            """INSERT INTO webhook_journal (phone_number_id, body, status, attempts, processed_at)
               SELECT '1000' || (n %% 1000), %s, 'processed', 1, now()
               FROM generate_series(1, %s) n""",
            (body, processed),
        )
        await conn.execute("ANALYZE webhook_journal")


async def _cycle(url: str) -> float:
    from wacrm.reports import recent

    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        started = time.perf_counter()
        await recent.run_cycle(conn)
        return time.perf_counter() - started


def pages(agents: int, users: int, numbers: int) -> dict[str, str]:
    """Every admin page, and the last page of each paged list at this size."""
    from wacrm.web import admin_parts

    # (another tree's pages, in an A/B run, may have no page size: 50)
    sizes = [getattr(admin_parts, f"{n}_PAGE", 50) for n in ("AGENTS", "USERS", "NUMBERS")]

    def last(n: int, size: int) -> int:
        return max(1, (n - 1) // size + 1)

    out = dict(PAGES)
    out["agents_last_page"] = f"/admin/agents?page={last(agents, sizes[0])}"
    out["users_last_page"] = f"/admin/users?page={last(users, sizes[1])}"
    out["numbers_last_page"] = f"/admin/numbers?page={last(numbers, sizes[2])}"
    return out


async def _sizes(url: str) -> tuple[int, int, int]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT (SELECT count(*) FROM agents), (SELECT count(*) FROM users),"
            " (SELECT count(*) FROM whatsapp_configuration)"
        )
        row = await cur.fetchone()
    assert row is not None
    return row[0], row[1], row[2]


async def _pages(url: str, runs: int, log: bool = False) -> dict[str, dict[str, Any]]:
    """p50/p95 (ms), statements and CPU per request (this process, the database's backends)
    of every admin page, the pages interleaved request by request."""
    from bench.request_probe import StatementLog, backend_cpu_s, cpu_spent, database_pids
    from wacrm.app import create_app
    from wacrm.config import get_settings

    paths = pages(*await _sizes(url))
    app = create_app(get_settings(), database_url=url)
    probe = StatementLog()
    seen: dict[str, dict[str, list[float]]] = {
        n: {"ms": [], "py_cpu_ms": [], "db_cpu_ms": [], "statements": []} for n in paths
    }
    texts: dict[str, list[str]] = {}
    with psycopg.connect(url, autocommit=True) as watch:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver", timeout=120
            ) as http:
                r = await http.post(
                    "/api/v1/auth/login",
                    json={"email": "admin@bench.example", "password": PASSWORD},
                )
                assert r.status_code == 200, r.text[:200]  # and the session cookie
                for n in range(runs + 2):  # two warm-up rounds
                    for name, page in paths.items():
                        if name in UNTIMED and n >= 2 + DOWNLOAD_RUNS:
                            continue
                        path, _, zone = page.partition("#tz=")
                        http.cookies.set("wacrm_tz", zone or "UTC")  # as app.js sets it
                        pids = database_pids(watch)
                        db0, py0 = backend_cpu_s(pids), time.process_time()
                        with probe.capture() as sent:
                            started = time.perf_counter()
                            r = await http.get(path)
                            body = r.content
                            elapsed = (time.perf_counter() - started) * 1000
                        py, db = time.process_time() - py0, cpu_spent(db0, backend_cpu_s(pids))
                        assert r.status_code == 200 and body, (name, r.status_code, body[:200])
                        assert not zone or f'data-zone="{zone}"'.encode() in body, name
                        if n >= 2:
                            got = seen[name]
                            got["ms"].append(elapsed)
                            got["py_cpu_ms"].append(py * 1000)
                            got["db_cpu_ms"].append(db * 1000)
                            got["statements"].append(len(sent))
                            texts[name] = list(sent)
    if log:
        for name, sent in texts.items():
            print(f"--- {name} {paths[name]}: {len(sent)} statements")
            for text in sent:
                print("   ", text)
    return {
        name: {
            "path": paths[name],
            "p50_ms": round(statistics.median(t["ms"]), 1),
            "p95_ms": round(_p95(t["ms"]), 1),
            "py_cpu_ms": round(statistics.median(t["py_cpu_ms"]), 1),
            "db_cpu_ms": round(statistics.mean(t["db_cpu_ms"]), 1),
            "statements": max(t["statements"]),
        }
        for name, t in seen.items()
    }


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95 + 0.5) - 1)]


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
        asyncio.run(_journal(url, size["journal"]))
        make_agents(url, size["few"], token=False, concurrency=2)
        asyncio.run(_traffic(url, 0))
        out["few_cycle_s"] = round(asyncio.run(_cycle(url)), 2)
        out["few"] = asyncio.run(_pages(url, size["runs"]))
        started = time.perf_counter()
        made = make_agents_bulk(url, size["many"] - size["few"], first=size["few"])
        out["provision_s"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        asyncio.run(_traffic(url, made[0].agent_id))
        out["traffic_s"] = round(time.perf_counter() - started, 1)
        out["many_cycle_s"] = round(asyncio.run(_cycle(url)), 2)
        out["idle_cycle_s"] = round(asyncio.run(_cycle(url)), 2)
        out["many"] = asyncio.run(_pages(url, size["runs"]))
    out["rows"] = rows(out)
    return out


def rows(out: dict[str, Any]) -> list[dict[str, Any]]:
    few, many, size = out["few"], out["many"], out["size"]
    lines = []
    for name in PAGES:
        m, f = many[name], few[name]
        timed = name not in UNTIMED
        lines.append(
            row(
                f"Admin page p95 with {size['many']} agents: {name}",
                m["p95_ms"],
                "ms",
                200 if timed else None,
                "<=" if timed else None,
                note=f"`{m['path']}`; p50 {m['p50_ms']} ms; {m['statements']} statements, "
                f"CPU {m['py_cpu_ms']} ms web + {m['db_cpu_ms']} ms database per request "
                f"(with {size['few']} agents: p95 {f['p95_ms']} ms, ratio "
                f"{round(m['p95_ms'] / f['p95_ms'], 2) if f['p95_ms'] else '–'}; "
                f"{f['statements']} statements)",
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
    lines.append(
        row(
            f"Admin benchmark setup: {size['many'] - size['few']} agents with users and numbers",
            out["provision_s"],
            "s",
            None,
            None,
            note="`create_agents` in 3 sessions, then their users' numbers; "
            f"traffic of every agent {out.get('traffic_s', '–')} s",
        )
    )
    return lines


def main() -> None:
    """Time the pages on an existing database (its admin made by this benchmark): a profile
    (`--log`: every statement of each page) or one side of an A/B run (JSON on stdout)."""
    import argparse
    import json

    from bench.env import use_crm_settings

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("url")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--log", action="store_true", help="print each page's statements")
    args = parser.parse_args()
    use_crm_settings(args.url)
    print(json.dumps(asyncio.run(_pages(args.url, args.runs, log=args.log))))


if __name__ == "__main__":
    main()
