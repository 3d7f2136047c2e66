"""Admin views across agents with more agents than PostgreSQL's lock table holds for one reader.

One statement or transaction over every agent's tables holds ~17-22 locks per agent until it ends;
the lock table holds max_locks_per_transaction x (backends) for the whole server (~7,800 with
the defaults). The database here gets enough agents for such a reader to need ~1.3 times that
(several hundred, from the provisioning template), and the admin's all-agents dashboard, both
all-agents CSV exports, the agents page and the agents API must answer in full.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from tests.conftest import _admin_exec, with_dbname
from tests.conversations.factory import add_customer, add_message
from tests.web.conftest import sign_in, user_with_password
from wacrm.agents.service import AgentSpec, create_agents
from wacrm.agents.tables import AgentTables
from wacrm.orders import service as orders
from wacrm.reports import recent

pytestmark = pytest.mark.slow

LOCKS_PER_AGENT = 17  # the fewest a reader of one agent's customers and messages takes
BACKENDS_SQL = """
SELECT current_setting('max_locks_per_transaction')::int * (
  current_setting('max_connections')::int + current_setting('max_prepared_transactions')::int
  + current_setting('autovacuum_max_workers')::int + current_setting('max_worker_processes')::int
  + current_setting('max_wal_senders')::int + 1) AS capacity"""


async def _traffic(conn: Any, tables: AgentTables, k: int, today: datetime) -> None:
    """Two messages in, one out (replied after 60 s), one order of 2 x 5.00."""
    cid = await add_customer(conn, tables, f"Many {k}", phone=f"+49151777{k:05d}")
    await add_message(conn, tables, cid, "hello", at=today - timedelta(days=1))
    await add_message(conn, tables, cid, "there?", at=today - timedelta(days=1, seconds=-10))
    await add_message(
        conn, tables, cid, "yes", direction="outbound", at=today - timedelta(days=1, seconds=-60)
    )
    await orders.create_order(
        conn, tables=tables, customer_id=cid, items=[{"name": "Cup", "quantity": 2, "price": "5"}]
    )


@pytest.fixture(scope="module")
async def many(pg_server_url: str, template_url: str) -> AsyncIterator[dict[str, Any]]:
    """A database with an admin and enough agents to exhaust the lock table (5 with traffic)."""
    name = f"wacrm_many_{uuid.uuid4().hex[:10]}"
    template = conninfo_to_dict(template_url)["dbname"]
    _admin_exec(pg_server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = with_dbname(pg_server_url, name)
    try:
        async with await psycopg.AsyncConnection.connect(
            url, row_factory=dict_row, autocommit=True
        ) as conn:
            cur = await conn.execute(BACKENDS_SQL)
            capacity = (await cur.fetchone())["capacity"]
            admin = await user_with_password(conn, "root@example.com", role="admin", agent=False)
            wanted = int(capacity * 1.3 / LOCKS_PER_AGENT)
            made = await create_agents(
                conn, created_by=admin["user"]["id"], specs=[AgentSpec()] * wanted
            )
            today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
            busy = [AgentTables(a["id"], a["agent_prefix"]) for a in made[:: len(made) // 5][:5]]
            for k, tables in enumerate(busy):
                await _traffic(conn, tables, k, today)
        yield {"url": url, "agents": len(made), "busy": busy, "capacity": capacity}
    finally:
        _admin_exec(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def admin_client(many: dict[str, Any], tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    from wacrm.app import create_app
    from wacrm.config import Settings

    settings = Settings(
        WACRM_ENV="test",
        WACRM_DATA_DIR=tmp_path / "data",
        WACRM_SECRET_KEY="test-secret-key-0123456789-abcdefghijklmnop",
        WACRM_RUN_WORKER=False,
        WACRM_PUBLIC_URL="http://testserver",
        WACRM_DB_POOL_SIZE=4,
    )
    app = create_app(settings, database_url=many["url"])
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            await sign_in(http, "root@example.com")
            yield http


async def test_the_all_agents_dashboard_reads_the_shared_rollup(
    many: dict[str, Any], admin_client: httpx.AsyncClient
) -> None:
    assert many["agents"] * LOCKS_PER_AGENT > many["capacity"]
    async with await psycopg.AsyncConnection.connect(
        many["url"], row_factory=dict_row, autocommit=True
    ) as conn:
        cycle = await recent.run_cycle(conn)
    assert cycle.counted == many["agents"]
    for days in ("7", "30"):
        page = await admin_client.get("/dashboard", params={"agents": "all", "days": days})
        assert page.status_code == 200, page.text[:300]
        assert 'id="stat-in">10<' in page.text and 'id="stat-out">5<' in page.text
        assert "(5 replies)" in page.text and 'id="stat-orders">5<' in page.text
        assert "50.00" in page.text and "not counted yet" not in page.text


@pytest.mark.parametrize("kind", ["orders", "customers"])
async def test_the_all_agents_exports_stream_every_agent(
    many: dict[str, Any], admin_client: httpx.AsyncClient, kind: str
) -> None:
    async with admin_client.stream("GET", f"/api/v1/admin/{kind}/export.csv") as response:
        assert response.status_code == 200
        body = b"".join([chunk async for chunk in response.aiter_bytes()])
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert sorted(int(r["agent_id"]) for r in rows) == [t.agent_id for t in many["busy"]]
    assert {r["customer_name" if kind == "orders" else "name"] for r in rows} == {
        f"Many {k}" for k in range(5)
    }


async def test_the_agents_page_and_api_are_paged(
    many: dict[str, Any], admin_client: httpx.AsyncClient
) -> None:
    first = await admin_client.get("/admin/agents")
    assert first.status_code == 200
    assert f"1–50 of {many['agents']} agents" in first.text and 'rel="next"' in first.text
    assert first.text.count("data-agent-id=") == 50
    menu = first.text.split('id="workspace-agent"')[1].split("</select>")[0]
    assert menu.count("<option") == 100 and 'id="workspace-more"' in first.text  # not 600
    assert first.text.count('name="next" value="/inbox"') == 50  # "Work here" per agent
    last_page = (many["agents"] - 1) // 50 + 1
    last = await admin_client.get("/admin/agents", params={"page": last_page})
    assert last.status_code == 200 and 'rel="next"' not in last.text
    assert last.text.count("data-agent-id=") == many["agents"] - (last_page - 1) * 50
    busy = many["busy"][-1].agent_id
    listed = await admin_client.get("/api/v1/agents", params={"limit": 500, "offset": busy - 3})
    assert listed.status_code == 200
    counts = {a["id"]: a["counts"] for a in listed.json()}
    assert counts[busy] == {"customers": 1, "messages": 3, "orders": 1}
    assert (await admin_client.get("/api/v1/agents", params={"limit": 501})).status_code == 422
