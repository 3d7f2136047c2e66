"""Agents API: provision, counts, link/unlink (one agent per user), deactivate, confirmed drop."""

from __future__ import annotations

from tests.helpers import bearer, make_admin, make_agent_user
from wacrm.accounts.service import create_user


async def _tables(conn, prefix: str) -> int:
    cur = await conn.execute(
        "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public' AND starts_with(tablename, %s)",
        (prefix + "_",),
    )
    return (await cur.fetchone())["n"]


async def test_create_list_counts_link(client, conn):
    admin = await make_admin(conn)
    h = bearer(admin["token"])
    user = await create_user(conn, email="ann@example.com", name="Ann", role="agent")
    r = await client.post(
        "/api/v1/agents", json={"user_id": str(user["id"]), "prefix": "agt_3784"}, headers=h
    )
    assert r.status_code == 201, r.text
    agent = r.json()
    assert agent["agent_prefix"] == "agt_3784" and agent["user_email"] == "ann@example.com"
    assert await _tables(conn, "agt_3784") >= 4
    await conn.execute("INSERT INTO agt_3784_customers (name, phone) VALUES ('C', '+1555')")
    listed = (await client.get("/api/v1/agents", headers=h)).json()
    assert listed[0]["counts"] == {"customers": 1, "messages": 0, "orders": 0}

    # a second agent for the same user: 409, nothing created
    r = await client.post("/api/v1/agents", json={"user_id": str(user["id"])}, headers=h)
    assert r.status_code == 409 and "already linked" in r.json()["detail"]
    assert len((await client.get("/api/v1/agents", headers=h)).json()) == 1

    r = await client.post("/api/v1/agents", json={"prefix": "agt_9"}, headers=h)
    other = r.json()
    r = await client.post(
        f"/api/v1/agents/{other['id']}/link", json={"user_id": str(user["id"])}, headers=h
    )
    assert r.status_code == 409
    r = await client.post(f"/api/v1/agents/{agent['id']}/unlink", headers=h)
    assert r.status_code == 200 and r.json()["user_id"] is None
    r = await client.post(
        f"/api/v1/agents/{other['id']}/link", json={"user_id": str(user["id"])}, headers=h
    )
    assert r.status_code == 200 and r.json()["user_email"] == "ann@example.com"

    r = await client.post("/api/v1/agents", json={"prefix": "agt_1; DROP TABLE users"}, headers=h)
    assert r.status_code == 400 and "invalid agent prefix" in r.json()["detail"]


async def test_deactivate_keeps_data_and_drop_needs_confirmation(client, conn):
    admin = await make_admin(conn)
    h = bearer(admin["token"])
    a = await make_agent_user(conn, "a@example.com", prefix="agt_77")
    r = await client.post(f"/api/v1/agents/{a['agent']['id']}/deactivate", headers=h)
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert await _tables(conn, "agt_77") >= 4
    r = await client.request(
        "DELETE", f"/api/v1/agents/{a['agent']['id']}", json={"confirm": "yes"}, headers=h
    )
    assert r.status_code == 400 and "agt_77" in r.json()["detail"]
    assert await _tables(conn, "agt_77") >= 4
    r = await client.request(
        "DELETE",
        f"/api/v1/agents/{a['agent']['id']}",
        json={"confirm": "agt_77"},
        headers=bearer(a["token"]),
    )
    assert r.status_code == 403
    r = await client.request(
        "DELETE", f"/api/v1/agents/{a['agent']['id']}", json={"confirm": "agt_77"}, headers=h
    )
    assert r.status_code == 200, r.text
    assert "agt_77_customers" in r.json()["dropped_tables"]
    assert await _tables(conn, "agt_77") == 0
    assert (await client.get(f"/api/v1/agents/{a['agent']['id']}", headers=h)).status_code == 404


async def test_a_new_agent_takes_wacrm_default_currency(app, client, conn):
    """The app's settings (WACRM_DEFAULT_CURRENCY) reach provisioning through the route."""
    admin = await make_admin(conn)
    app.state.settings = app.state.settings.model_copy(update={"default_currency": "EUR"})
    r = await client.post("/api/v1/agents", json={}, headers=bearer(admin["token"]))
    assert r.status_code == 201, r.text
    cur = await conn.execute("SELECT default_currency FROM agents WHERE id = %s", (r.json()["id"],))
    assert (await cur.fetchone())["default_currency"] == "EUR"
