"""The authorization matrix, generated from the app's route table.

Every /api/v1 route must declare its access level through its dependencies (wacrm.accounts.deps):
`public`, `current_user` (authenticated), `require_admin` or `agent_scope`. A route that declares
none fails this test, so a route added later is covered without anyone remembering it.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from tests.helpers import bearer, make_admin, make_agent_user
from wacrm.accounts import deps

STREAM_WAIT = 3.0  # seconds; a route still answering then is streaming (SSE)
FOREIGN_ID = 7001  # ids of agent B's rows; agent A's tables hold nothing
ACCESS_ORDER = ("admin", "agent", "authenticated", "public")
MARKERS = {
    deps.require_admin: "admin",
    deps.agent_scope: "agent",
    deps.agent_scope_brief: "agent",
    deps.current_user: "authenticated",
    deps.require_csrf: "authenticated",
    deps.public: "public",
}


def _calls(dependant: Any) -> set[Any]:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def api_routes(app: Any) -> list[tuple[str, str, str | None]]:
    """(method, path, access level or None) of every /api/v1 route."""
    try:
        from fastapi.routing import iter_route_contexts

        routes = list(iter_route_contexts(app.routes))
    except ImportError:  # older FastAPI: app.routes is flat
        routes = list(app.routes)
    out = []
    for route in routes:
        path = getattr(route, "path", None)
        dependant = getattr(route, "dependant", None)
        if not path or not path.startswith("/api/v1") or dependant is None:
            continue
        levels = {MARKERS[c] for c in _calls(dependant) if c in MARKERS}
        level = next((lvl for lvl in ACCESS_ORDER if lvl in levels), None)
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            out.append((method, path, level))
    return out


def _fill(path: str, value: Any) -> str:
    return re.sub(r"\{[^}]+\}", str(value), path)


async def _seed_foreign_rows(conn, tables) -> None:
    """A customer, message, order and order item in agent B's tables, all with id FOREIGN_ID."""
    await conn.execute(
        tables.query(
            """INSERT INTO {customers} (id, name, phone) VALUES (7001, 'B customer', '+15550007001');
               INSERT INTO {messages} (id, customer_id, message, direction)
                 VALUES (7001, 7001, 'secret of B', 'inbound');
               INSERT INTO {orders} (id, customer_id) VALUES (7001, 7001);
               INSERT INTO {orders_items} (id, order_id, name) VALUES (7001, 7001, 'B item')"""
        )
    )


@pytest.fixture
async def world(conn):
    a = await make_agent_user(conn, "a@example.com")
    b = await make_agent_user(conn, "b@example.com")
    admin = await make_admin(conn)
    await _seed_foreign_rows(conn, b["tables"])
    return {"a": a, "b": b, "admin": admin}


class _Streaming:
    """Stands for a response that was still streaming (e.g. SSE) when the call timed out: allowed."""

    status_code = 200
    text = "(streaming response)"


async def _call(client, method: str, url: str, token: str | None, params=None):
    headers = bearer(token) if token else {}
    body = None if method in ("GET", "DELETE") else {}
    try:
        return await asyncio.wait_for(
            client.request(method, url, headers=headers, params=params, json=body), STREAM_WAIT
        )
    except TimeoutError:
        return _Streaming()


def _allowed(status: int) -> bool:
    return status not in (401, 403)


async def test_every_api_route_declares_its_access(app):
    routes = api_routes(app)
    assert routes, "no /api/v1 routes found: the route-table walk is broken"
    undeclared = [f"{m} {p}" for m, p, level in routes if level is None]
    assert not undeclared, (
        "routes without a declared access level (add Depends(public), current_user, "
        f"require_admin or agent_scope): {undeclared}"
    )


async def test_authorization_matrix(app, client, world):
    a, b, admin = world["a"], world["b"], world["admin"]
    failures: list[str] = []
    proven: list[str] = []
    checked = 0

    def expect(ok: bool, what: str, r) -> None:
        if not ok:
            failures.append(f"{what} -> {r.status_code} {r.text[:120]}")

    for method, path, level in api_routes(app):
        if level is None:
            continue
        url = _fill(path, FOREIGN_ID)
        checked += 1
        anon = await _call(client, method, url, None)
        if level == "public":
            expect(_allowed(anon.status_code), f"anonymous {method} {path} (public)", anon)
            continue
        expect(anon.status_code == 401, f"anonymous {method} {path}", anon)
        if level == "authenticated":
            for who, token in (("A", a["token"]), ("admin", admin["token"])):
                r = await _call(client, method, url, token)
                expect(_allowed(r.status_code), f"{who} {method} {path} (authenticated)", r)
        elif level == "admin":
            for who, token in (("A", a["token"]), ("B", b["token"])):
                r = await _call(client, method, url, token)
                expect(r.status_code == 403, f"{who} {method} {path} (admin only)", r)
            r = await _call(client, method, url, admin["token"])
            expect(_allowed(r.status_code), f"admin {method} {path}", r)
        elif level == "agent":
            r = await _call(client, method, url, a["token"])
            expect(_allowed(r.status_code), f"A {method} {path} (own scope)", r)
            if "{" in path:  # agent A asking for agent B's ids
                expect(
                    r.status_code in (404, 422) and r.status_code != 200,
                    f"A {method} {path} with B's id {FOREIGN_ID}",
                    r,
                )
                if method == "GET":
                    expect(r.status_code == 404, f"A GET {path} with B's id", r)
            r = await _call(client, method, url, a["token"], params={"agent_id": b["agent"]["id"]})
            expect(r.status_code == 404, f"A {method} {path}?agent_id=B", r)
            r = await _call(client, method, url, admin["token"])
            expect(r.status_code == 400, f"admin {method} {path} without agent_id", r)
            r = await _call(
                client, method, url, admin["token"], params={"agent_id": b["agent"]["id"]}
            )
            expect(
                _allowed(r.status_code) and r.status_code != 400,
                f"admin {method} {path}?agent_id=B",
                r,
            )
            if method == "GET" and "{" in path and r.status_code == 200:
                proven.append(path)  # B's row exists, and agent A was answered 404 for it
    assert checked > 0
    assert not failures, "\n".join(failures)
    agent_paths = [p for _, p, lvl in api_routes(app) if lvl == "agent" and "{" in p]
    if agent_paths:  # the 404s above are not vacuous: the admin does see B's rows there
        assert proven, f"no agent-scoped GET found B's rows as admin: {agent_paths}"


async def test_revoked_token_and_deactivated_user_lose_access(client, conn, world):
    a, admin = world["a"], world["admin"]
    assert (await client.get("/api/v1/auth/me", headers=bearer(a["token"]))).status_code == 200
    tokens = (await client.get("/api/v1/tokens", headers=bearer(a["token"]))).json()
    r = await client.delete(f"/api/v1/tokens/{tokens[0]['id']}", headers=bearer(a["token"]))
    assert r.status_code == 200 and r.json()["revoked_at"]
    r = await client.get("/api/v1/auth/me", headers=bearer(a["token"]))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    b = world["b"]
    r = await client.post(
        f"/api/v1/users/{b['user_id']}/deactivate", headers=bearer(admin["token"])
    )
    assert r.status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=bearer(b["token"]))).status_code == 401


async def test_a_cannot_revoke_b_token(client, world):
    b_tokens = (await client.get("/api/v1/tokens", headers=bearer(world["b"]["token"]))).json()
    r = await client.delete(
        f"/api/v1/tokens/{b_tokens[0]['id']}", headers=bearer(world["a"]["token"])
    )
    assert r.status_code == 404
    assert (
        await client.get("/api/v1/auth/me", headers=bearer(world["b"]["token"]))
    ).status_code == 200


async def test_deactivated_agent_loses_its_scope(app, client, conn, world):
    from fastapi import Depends

    @app.get("/api/v1/_test/whoami")
    async def whoami(scope: deps.AgentScope = Depends(deps.agent_scope)) -> dict:
        return {"agent_id": scope.agent_id}

    a, admin = world["a"], world["admin"]
    assert (await client.get("/api/v1/_test/whoami", headers=bearer(a["token"]))).status_code == 200
    r = await client.post(
        f"/api/v1/agents/{a['agent']['id']}/deactivate", headers=bearer(admin["token"])
    )
    assert r.status_code == 200 and r.json()["is_active"] is False
    r = await client.get("/api/v1/_test/whoami", headers=bearer(a["token"]))
    assert r.status_code == 403 and "not linked to an active agent" in r.json()["detail"]
