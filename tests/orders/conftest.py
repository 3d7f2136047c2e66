"""Orders fixtures: two agents (users with API tokens), each with a customer."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import make_admin, make_agent_user


async def add_customer(conn: Any, tables: Any, name: str, phone: str) -> int:
    cur = await conn.execute(
        tables.query("INSERT INTO {customers} (name, phone) VALUES (%s, %s) RETURNING id"),
        (name, phone),
    )
    return (await cur.fetchone())["id"]


async def add_message(
    conn: Any, tables: Any, customer_id: int, text: str = "I want two mugs"
) -> int:
    cur = await conn.execute(
        tables.query(
            "INSERT INTO {messages} (customer_id, message, direction) VALUES (%s, %s, 'inbound') RETURNING id"
        ),
        (customer_id, text),
    )
    return (await cur.fetchone())["id"]


@pytest.fixture
async def agent(conn: Any) -> dict[str, Any]:
    a = await make_agent_user(conn, "alice@example.com")
    a["customer_id"] = await add_customer(conn, a["tables"], "Ann Buyer", "15550001111")
    return a


@pytest.fixture
async def other(conn: Any, agent: dict[str, Any]) -> dict[str, Any]:
    b = await make_agent_user(conn, "bob@example.com")
    # give the other agent a few customers so its ids go beyond the first agent's
    for n in range(3):
        b["customer_id"] = await add_customer(conn, b["tables"], f"Bea {n}", f"1555000222{n}")
    return b


@pytest.fixture
async def admin(conn: Any) -> dict[str, Any]:
    return await make_admin(conn)
