"""Admin API for users and tokens: validation, clear 4xx errors that change nothing."""

from __future__ import annotations

import pytest

from tests.helpers import bearer, make_admin


async def _users(conn) -> int:
    cur = await conn.execute("SELECT count(*) AS n FROM users")
    return (await cur.fetchone())["n"]


async def test_create_list_update_user(client, conn):
    admin = await make_admin(conn)
    h = bearer(admin["token"])
    r = await client.post(
        "/api/v1/users",
        json={
            "email": "Ann@Example.com",
            "name": "Ann",
            "role": "agent",
            "password": "ann's passphrase",
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["email"] == "ann@example.com" and "password" not in r.text
    assert {u["email"] for u in (await client.get("/api/v1/users", headers=h)).json()} == {
        "admin@example.com",
        "ann@example.com",
    }
    r = await client.patch(
        f"/api/v1/users/{user['id']}", json={"name": "Ann B", "role": "admin"}, headers=h
    )
    assert r.status_code == 200 and r.json()["name"] == "Ann B" and r.json()["role"] == "admin"
    r = await client.get("/api/v1/users/00000000-0000-0000-0000-000000000000", headers=h)
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"email": "admin@example.com", "name": "X", "role": "agent"}, 409, "already exists"),
        ({"email": "ADMIN@example.com", "name": "X", "role": "agent"}, 409, "already exists"),
        ({"email": "not an email", "name": "X", "role": "agent"}, 400, "not valid"),
        ({"email": "x@example.com", "name": "X", "role": "owner"}, 422, "admin"),
        ({"email": "x@example.com", "name": "X", "role": "agent", "password": ""}, 400, "empty"),
        (
            {"email": "x@example.com", "name": "X", "role": "agent", "password": "abc"},
            400,
            "too short",
        ),
        ({"email": "x@example.com", "name": "", "role": "agent"}, 422, "name"),
    ],
)
async def test_bad_user_input_is_4xx_and_changes_nothing(client, conn, body, status, message):
    admin = await make_admin(conn)
    before = await _users(conn)
    r = await client.post("/api/v1/users", json=body, headers=bearer(admin["token"]))
    assert r.status_code == status, r.text
    assert message in r.text
    assert await _users(conn) == before


async def test_admin_cannot_lock_itself_out(client, conn):
    admin = await make_admin(conn)
    h = bearer(admin["token"])
    r = await client.post(f"/api/v1/users/{admin['user_id']}/deactivate", headers=h)
    assert r.status_code == 400
    r = await client.patch(f"/api/v1/users/{admin['user_id']}", json={"role": "agent"}, headers=h)
    assert r.status_code == 400


async def test_token_names_and_listing(client, conn):
    admin = await make_admin(conn)
    h = bearer(admin["token"])
    assert (await client.post("/api/v1/tokens", json={"name": ""}, headers=h)).status_code == 422
    r = await client.post("/api/v1/tokens", json={"name": "deploy"}, headers=h)
    token = r.json()["token"]
    listed = (await client.get("/api/v1/tokens", headers=h)).json()
    assert [t["name"] for t in listed] == ["tests", "deploy"]
    assert token not in str(listed) and listed[1]["token_hint"] == token[-4:]
