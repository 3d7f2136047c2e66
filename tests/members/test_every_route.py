"""Every workspace route, read from the route table: a user in several workspaces must choose
(?agent_id=, 400 naming the choices), may use the ones they work in, and gets 404 for another;
a user who is not a member finds nothing of a workspace on any page (web), whatever it asks."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.accounts.test_authz_matrix import STREAM_WAIT, _seed_foreign_rows
from tests.helpers import bearer, make_agent_user
from tests.members.routes import API_SCOPES, WEB_SCOPES, fill, workspace_routes
from tests.web.conftest import sign_in, user_with_password
from wacrm.accounts.tokens import create_token
from wacrm.members import service as members


async def _request(client, method: str, url: str, **kw: Any) -> Any:
    body = None if method in ("GET", "DELETE") else {}
    try:
        return await asyncio.wait_for(client.request(method, url, json=body, **kw), STREAM_WAIT)
    except TimeoutError:
        return None  # still streaming (SSE): answered


async def test_a_user_in_several_workspaces_on_every_api_route(app, client, conn):
    a = await make_agent_user(conn, "a@example.com")
    b = await make_agent_user(conn, "b@example.com")
    c = await make_agent_user(conn, "c@example.com")
    mia = await user_with_password(conn, "mia@example.com", agent=False)
    for owner in (a, b):
        await members.add_member(conn, agent_id=owner["agent"]["id"], email="mia@example.com")
    token = bearer(await create_token(conn, user_id=mia["user"]["id"], name="t"))
    ids = (a["agent"]["id"], b["agent"]["id"], c["agent"]["id"])
    wrong = []
    for method, path, manager in workspace_routes(app, API_SCOPES):
        if "{agent_id}" in path:  # the path names the workspace: no choice to make
            url = fill(path, agent_id=ids[2])
            r = await _request(client, method, url, headers=token)
            if r is None or r.status_code != 404:
                wrong.append(f"{method} {path} of a stranger's workspace: {r and r.status_code}")
            continue
        url = fill(path, agent_id=0)
        r = await _request(client, method, url, headers=token)
        named = r is not None and all(str(i) in r.json().get("detail", "") for i in ids[:2])
        if r is None or r.status_code != 400 or not named:
            wrong.append(f"{method} {path} without agent_id: {r and r.status_code} {r and r.text}")
        r = await _request(client, method, url, headers=token, params={"agent_id": ids[0]})
        if r is not None and r.status_code in (400, 401, 403) and not manager:
            wrong.append(f"{method} {path}?agent_id=own: {r.status_code} {r.text[:100]}")
        r = await _request(client, method, url, headers=token, params={"agent_id": ids[2]})
        if r is None or r.status_code != 404:
            wrong.append(f"{method} {path}?agent_id=stranger: {r and r.status_code}")
    assert not wrong, "\n".join(wrong)


async def test_a_non_member_finds_nothing_on_any_page(app, client, conn):
    """Otto works in his own (empty) workspace and asks for Bea's rows (ids 7001), with Bea's
    workspace chosen in his switch cookie; Bea herself is answered for the same GETs."""
    bea = await user_with_password(conn, "bea@example.com")
    await user_with_password(conn, "otto@example.com")
    await _seed_foreign_rows(conn, bea["tables"])
    secret = ("B customer", "secret of B", "B item")
    wrong, proven = [], []
    routes = [r for r in workspace_routes(app, WEB_SCOPES) if "{" in r[1]]
    assert len(routes) > 20
    for who in ("otto@example.com", "bea@example.com"):
        client.cookies.clear()
        csrf = await sign_in(client, who)
        client.cookies.set("wacrm_workspace", str(bea["agent"]["id"]))
        for method, path, _ in routes:
            url = fill(path, agent_id=bea["agent"]["id"])
            r = await _request(client, method, url, headers={"X-CSRF-Token": csrf})
            if who.startswith("bea"):
                if method == "GET" and r is not None and r.status_code == 200:
                    proven.append(path)
                continue
            text = "" if r is None else r.text
            if r is None or r.status_code not in (404, 422) or any(s in text for s in secret):
                wrong.append(f"{method} {path}: {r and r.status_code} {text[:100]}")
    assert not wrong, "\n".join(wrong)
    assert {"/chat/{customer_id}", "/orders/{order_id:int}"} <= set(proven)
