"""Outbound test setup: an agent with a WhatsApp number registered in the sandbox, a customer, a worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.helpers import configure_sandbox_number, make_agent_user
from tests.sandbox_fixture import DEFAULT_NUMBER
from wacrm.config import get_settings
from wacrm.worker import run_worker

CUSTOMER_PHONE = "4915123456789"


@pytest.fixture
def graph_base(sandbox: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Point the Graph API at the sandbox for this test: the app's settings and the environment
    (read by the workers and commands a test starts)."""
    monkeypatch.setattr(settings, "whatsapp_api_base_url", sandbox.base_url)
    monkeypatch.setenv("WHATSAPP_API_BASE_URL", sandbox.base_url)
    get_settings.cache_clear()
    yield sandbox
    get_settings.cache_clear()


@pytest.fixture
async def shop(conn: Any, graph_base: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """An agent whose number is registered in the sandbox, and a customer who wrote just now.

    The per-customer spacing is relaxed here (one message per 50 ms) so that tests stay fast;
    test_limits.py checks the real spacing.
    """
    from wacrm.outbound import limiter

    monkeypatch.setattr(limiter, "PAIR_RATE", 20.0)
    sandbox = graph_base
    sandbox.register_number()
    user = await make_agent_user(conn, "seller@example.com")
    config = await configure_sandbox_number(conn, user["user_id"], DEFAULT_NUMBER)
    tables = user["tables"]
    customer = await add_customer(conn, tables, CUSTOMER_PHONE, sandbox=sandbox)
    return {**user, "config": config, "customer": customer, "sandbox": sandbox}


async def add_customer(
    conn: Any,
    tables: Any,
    phone: str | None,
    *,
    bsuid: str | None = None,
    written_ago: float | None = 60,
    sandbox: Any = None,
) -> dict[str, Any]:
    cur = await conn.execute(
        tables.query(
            """INSERT INTO {customers} (name, phone, bsuid, last_inbound_at)
               VALUES ('Customer', %s, %s, CASE WHEN %s::float8 IS NULL THEN NULL ELSE now() - make_interval(secs => %s) END)
               RETURNING *"""
        ),
        (phone, bsuid, written_ago, written_ago),
    )
    row = await cur.fetchone()
    if sandbox is not None and written_ago is not None:
        sandbox.open_window(phone or bsuid, at=time.time() - written_ago)
    return row


async def reserve_pair(conn: Any, *, phone_number_id: str, recipient: str) -> float:
    """Take a send slot of one customer's bucket, as a send's claim does (wacrm_take_token)."""
    from wacrm.outbound import limiter

    return await limiter.reserve(
        conn,
        key=limiter.pair_key(phone_number_id, recipient),
        rate=limiter.PAIR_RATE,
        burst=limiter.PAIR_BURST,
    )


@asynccontextmanager
async def worker(db_url: str, concurrency: int = 4) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(db_url, concurrency=concurrency, stop=stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def wait_until(check: Callable[[], Awaitable[Any]], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


async def message_row(conn: Any, tables: Any, message_id: int) -> dict[str, Any]:
    cur = await conn.execute(tables.query("SELECT * FROM {messages} WHERE id = %s"), (message_id,))
    return await cur.fetchone()


async def wait_status(
    conn: Any, tables: Any, message_id: int, statuses: set[str], timeout: float = 15.0
) -> dict[str, Any]:
    async def check() -> Any:
        row = await message_row(conn, tables, message_id)
        return row if row["status"] in statuses else None

    row = await wait_until(check, timeout)
    assert row is not None, (
        f"message {message_id} never reached {statuses}: {await message_row(conn, tables, message_id)}"
    )
    return row
