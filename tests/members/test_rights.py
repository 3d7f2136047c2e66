"""Who changes what in a workspace, over the whole route table: administrators and the owner
manage the workspace itself (members, settings, labels, message templates); members work the
inbox (conversations, labels on them, notes, canned responses, orders...), as in Chatwoot."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.accounts.test_authz_matrix import STREAM_WAIT
from tests.helpers import bearer, make_agent_user
from tests.members.routes import API_SCOPES, UNSAFE, WEB_SCOPES, fill, workspace_routes
from tests.web.conftest import sign_in, user_with_password
from wacrm.accounts.tokens import create_token
from wacrm.members import service as members

MANAGER_ONLY_API = {
    ("POST", "/api/v1/labels"),
    ("PATCH", "/api/v1/labels/{label_id}"),
    ("DELETE", "/api/v1/labels/{label_id}"),
    ("POST", "/api/v1/agents/{agent_id}/members"),
    ("DELETE", "/api/v1/agents/{agent_id}/members/{user_id}"),
    ("PUT", "/api/v1/agents/{agent_id}/auto-assignment"),
}
MANAGER_ONLY_WEB = {
    ("POST", "/settings/away"),
    ("POST", "/settings/away/opt-words"),
    ("POST", "/settings/customer-messages"),
    ("POST", "/templates"),
    ("POST", "/templates/edit"),
    ("POST", "/templates/delete"),
    ("POST", "/team/members"),
    ("POST", "/team/members/{user_id}/remove"),
    ("POST", "/team/auto-assign"),
    ("POST", "/team/labels"),
    ("POST", "/team/labels/{label_id}/delete"),
}


def test_the_manager_only_routes_are_the_decided_ones(app):
    api = {(m, p) for m, p, manager in workspace_routes(app, API_SCOPES) if manager}
    web = {(m, p) for m, p, manager in workspace_routes(app, WEB_SCOPES) if manager}
    assert api == MANAGER_ONLY_API
    assert web == MANAGER_ONLY_WEB


async def _request(client, method: str, url: str, **kw: Any) -> Any:
    try:
        return await asyncio.wait_for(client.request(method, url, **kw), STREAM_WAIT)
    except TimeoutError:
        return None  # still streaming: answered


@pytest.fixture
async def desk(conn):
    owner = await make_agent_user(conn, "owner@example.com")
    mia = await user_with_password(conn, "mia@example.com", agent=False)
    await members.add_member(conn, agent_id=owner["agent"]["id"], email="mia@example.com")
    return {
        "agent_id": owner["agent"]["id"],
        "owner": bearer(owner["token"]),
        "mia": bearer(await create_token(conn, user_id=mia["user"]["id"], name="t")),
    }


async def test_members_are_refused_exactly_the_manager_only_api_routes(app, client, desk):
    wrong = []
    for method, path, _ in workspace_routes(app, API_SCOPES):
        if method not in UNSAFE:
            continue
        url = fill(path, agent_id=desk["agent_id"])
        r = await _request(client, method, url, json={}, headers=desk["mia"])
        status = 200 if r is None else r.status_code
        refused = status == 403
        if refused != ((method, path) in MANAGER_ONLY_API):
            wrong.append(f"member {method} {path}: {status} {r.text[:100] if r else ''}")
        r = await _request(client, method, url, json={}, headers=desk["owner"])
        if r is not None and r.status_code == 403:
            wrong.append(f"owner {method} {path}: 403 {r.text[:100]}")
    assert not wrong, "\n".join(wrong)


async def test_members_are_refused_exactly_the_manager_only_pages(app, client, conn):
    ann = await user_with_password(conn, "ann@example.com")
    await user_with_password(conn, "mia@example.com", agent=False)
    await members.add_member(conn, agent_id=ann["agent"]["id"], email="mia@example.com")
    wrong = []
    for who in ("mia@example.com", "ann@example.com"):
        client.cookies.clear()
        csrf = await sign_in(client, who)
        for method, path, _ in workspace_routes(app, WEB_SCOPES):
            if method not in UNSAFE:
                continue
            url = fill(path, agent_id=ann["agent"]["id"])
            r = await _request(client, method, url, headers={"X-CSRF-Token": csrf})
            status = 200 if r is None else r.status_code
            expected = who.startswith("mia") and (method, path) in MANAGER_ONLY_WEB
            if (status == 403) != expected:
                wrong.append(f"{who} {method} {path}: {status}")
    assert not wrong, "\n".join(wrong)
    page = await client.get("/team")  # Ann, the owner, manages labels
    assert 'id="label-form"' in page.text
    client.cookies.clear()
    await sign_in(client, "mia@example.com")
    page = await client.get("/team")
    assert 'id="label-form"' not in page.text and "/delete" not in page.text
    page = await client.get("/settings/away")
    assert page.status_code == 200 and 'id="managers-only"' in page.text


async def test_members_use_labels_that_managers_make(client, conn, desk):
    from tests.conversations.factory import add_customer

    r = await client.post(
        "/api/v1/labels", json={"name": "vip", "color": "#ff0000"}, headers=desk["mia"]
    )
    assert r.status_code == 403 and "owner" in r.json()["detail"]
    r = await client.post(
        "/api/v1/labels", json={"name": "vip", "color": "#ff0000"}, headers=desk["owner"]
    )
    assert r.status_code == 201
    label_id = r.json()["id"]
    for method, body in (("PATCH", {"color": "#00ff00"}), ("DELETE", None)):
        r = await client.request(
            method, f"/api/v1/labels/{label_id}", json=body, headers=desk["mia"]
        )
        assert r.status_code == 403
    labels = (await client.get("/api/v1/labels", headers=desk["mia"])).json()
    assert [(x["name"], x["color"]) for x in labels] == [("vip", "#ff0000")]
    cur = await conn.execute("SELECT agent_prefix FROM agents WHERE id = %s", (desk["agent_id"],))
    from wacrm.agents.tables import AgentTables

    tables = AgentTables(desk["agent_id"], (await cur.fetchone())["agent_prefix"])
    cid = await add_customer(conn, tables, "Ana", phone="+4915100000031")
    r = await client.patch(
        f"/api/v1/conversations/{cid}", json={"labels": ["vip"]}, headers=desk["mia"]
    )
    assert r.status_code == 200 and r.json()["labels"] == ["vip"]
