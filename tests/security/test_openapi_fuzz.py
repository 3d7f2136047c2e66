"""schemathesis against the app's /openapi.json with real tokens for two agents and an admin.

Checks: no 5xx, no response violating the documented schema or content type, and agent A never
sees agent B's data (B's rows carry marker strings that must not appear in any of A's responses).
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from psycopg.rows import dict_row
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from tests.conversations.factory import add_customer, add_message
from tests.helpers import make_admin, make_agent_user
from wacrm.orders import service as orders
from wacrm.sandbox.server import ThreadedServer

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# Streams forever / would call Meta / would sign the fuzzing caller out: not fuzzed.
SKIP = {
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/templates"),
    ("DELETE", "/api/v1/tokens/{token_id}"),
    ("POST", "/api/v1/auth/logout"),
}


async def _seed(url: str) -> dict[str, Any]:
    """Agents A and B, each with a customer, messages and an order carrying its own markers."""
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, row_factory=dict_row
    ) as conn:
        admin = await make_admin(conn)
        world: dict[str, Any] = {"admin": admin}
        for name in ("a", "b"):
            who = await make_agent_user(conn, f"agent-{name}@example.com")
            t, mark = who["tables"], f"MARK{name.upper()}x7q"
            cid = await add_customer(conn, t, f"{mark}-customer", phone=f"+49151000000{ord(name)}")
            for i in range(3):
                await add_message(conn, t, cid, f"{mark}-message-{i}")
            await orders.create_order(
                conn,
                tables=t,
                customer_id=cid,
                notes=f"{mark}-notes",
                items=[{"name": f"{mark}-item", "quantity": 2, "price": "9.50"}],
            )
            world[name] = {**who, "mark": mark, "customer_id": cid}
        return world


@pytest.fixture
def world(db_url: str, settings: Any) -> Any:
    from wacrm.app import create_app

    data = asyncio.run(_seed(db_url))
    app = create_app(settings, database_url=db_url)
    with ThreadedServer(app) as server:
        schema = schemathesis.openapi.from_dict(app.openapi())
        http = requests.Session()
        http.trust_env = False
        yield {**data, "schema": schema, "base_url": server.base_url, "http": http}
        http.close()


def _operations(schema: Any, methods: set[str] | None = None) -> list[Any]:
    ops = []
    for result in schema.get_all_operations():
        op = result.ok()
        key = (op.method.upper(), op.path)
        if key in SKIP or (methods and key[0] not in methods):
            continue
        ops.append(op)
    return ops


def fuzz(world: dict[str, Any], role: str, examples: int) -> dict[str, int]:
    """Fuzz every operation as `role`; returns {'operations': n, 'calls': n}."""
    token = world[role]["token"]
    admin = role == "admin"
    own_agent = None if admin else world[role]["agent"]["id"]
    others = [world[n]["mark"] for n in ("a", "b") if n != role] if not admin else []
    ops = _operations(world["schema"], {"GET", "HEAD"} if admin else None)
    stats = {"operations": len(ops), "calls": 0}
    for op in ops:

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy())
        def run(case: Any) -> None:
            if case.query and "agent_id" in case.query:
                # agents: their own id (others are 404 by design); admin: agent A or B
                case.query["agent_id"] = (
                    own_agent or world["a" if stats["calls"] % 2 else "b"]["agent"]["id"]
                )
            headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
            headers.pop("Cookie", None)
            response = case.call(
                base_url=world["base_url"], session=world["http"], headers=headers, timeout=30
            )
            stats["calls"] += 1
            case.validate_response(response, checks=CHECKS)
            for mark in others:
                assert mark not in response.text, (
                    f"{role} saw another agent's data in {case.method} {case.formatted_path}"
                )

        run()
    return stats


def test_openapi_fuzz_two_agents_and_admin(world: Any) -> None:
    totals = {role: fuzz(world, role, 4) for role in ("a", "b", "admin")}
    assert all(s["calls"] >= s["operations"] for s in totals.values()), totals
    print("schemathesis:", totals)


@pytest.mark.slow
def test_openapi_fuzz_many(world: Any) -> None:
    totals = {role: fuzz(world, role, 40) for role in ("a", "b", "admin")}
    print("schemathesis (slow):", totals)
