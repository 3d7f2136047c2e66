"""Broadcast test setup: a workspace with the sandbox's number and some customers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import configure_sandbox_number, make_agent_user
from tests.outbound.conftest import add_customer, graph_base  # noqa: F401 - fixture
from tests.sandbox_fixture import DEFAULT_NUMBER

PHONES = ["+4915123450001", "+4915123450002", "+4915123450003", "+4915123450004", "+4915123450005"]


@pytest.fixture
async def shop(conn: Any, graph_base: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:  # noqa: F811
    """An agent with the sandbox number, five customers (the last opted out, the first two with orders)."""
    from wacrm.outbound import limiter

    monkeypatch.setattr(limiter, "PAIR_RATE", 20.0)
    graph_base.register_number()
    user = await make_agent_user(conn, "seller@example.com")
    await configure_sandbox_number(conn, user["user_id"], DEFAULT_NUMBER)
    tables = user["tables"]
    customers = []
    for n, phone in enumerate(PHONES):
        row = await add_customer(
            conn, tables, phone, written_ago=None if n >= 3 else 3600 * (n + 1)
        )
        await conn.execute(
            tables.query("UPDATE {customers} SET name = %s WHERE id = %s"),
            (f"Ann{n} Smith", row["id"]),
        )
        customers.append(row)
    await conn.execute(
        tables.query("UPDATE {customers} SET opted_in = false WHERE id = %s"), (customers[4]["id"],)
    )
    for c in customers[:2]:
        await conn.execute(
            tables.query("INSERT INTO {orders} (customer_id) VALUES (%s)"), (c["id"],)
        )
    return {**user, "customers": customers, "sandbox": graph_base}
