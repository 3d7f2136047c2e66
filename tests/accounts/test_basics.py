"""Users, tokens, crypto and the request dependencies: the step-1 interfaces."""

from __future__ import annotations

import pytest
from fastapi import Depends, FastAPI
from httpx import ASGITransport, AsyncClient

from tests.helpers import bearer, make_admin, make_agent_user
from wacrm.accounts import deps
from wacrm.accounts.service import AccountError, create_user
from wacrm.accounts.tokens import create_token, revoke_token, user_for_token
from wacrm.security.crypto import SecretDecryptionError, decrypt_secret, encrypt_secret, mask


async def _count(conn, table: str) -> int:
    cur = await conn.execute(f"SELECT count(*) AS n FROM {table}")
    return (await cur.fetchone())["n"]


async def test_create_user_hashes_password_with_argon2id(conn):
    user = await create_user(
        conn, email="Ann@Example.COM", name="Ann", role="agent", password="correct horse battery"
    )
    assert user["email"] == "ann@example.com" and user["role"] == "agent" and user["is_active"]
    cur = await conn.execute(
        "SELECT password_hash FROM user_credentials WHERE user_id = %s", (user["id"],)
    )
    assert (await cur.fetchone())["password_hash"].startswith("$argon2id$")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"email": "not-an-email"}, "not valid"),
        ({"email": ""}, "empty"),
        ({"role": "owner"}, "unknown role"),
        ({"password": ""}, "empty"),
        ({"password": "short1"}, "too short"),
        ({"password": "aaaaaaaaaaaa"}, "different"),
        ({"password": "password123"}, "too common"),
        ({"name": "  "}, "name is empty"),
    ],
)
async def test_create_user_bad_input_changes_nothing(conn, kwargs, message):
    args = {
        "email": "bob@example.com",
        "name": "Bob",
        "role": "agent",
        "password": "a fine passphrase",
    }
    args.update(kwargs)
    with pytest.raises(AccountError, match=message):
        await create_user(conn, **args)
    assert await _count(conn, "users") == 0
    assert await _count(conn, "user_credentials") == 0


async def test_duplicate_email_is_409(conn):
    await create_user(conn, email="bob@example.com", name="Bob", role="agent")
    with pytest.raises(AccountError, match="already exists") as info:
        await create_user(conn, email="BOB@example.com", name="Bob 2", role="admin")
    assert info.value.status == 409
    assert await _count(conn, "users") == 1


async def test_tokens_are_hashed_prefixed_and_revocable(conn):
    user = await create_user(conn, email="t@example.com", name="T", role="agent")
    token = await create_token(conn, user_id=user["id"], name="ci")
    assert token.startswith("wacrm_") and len(token) > 40
    cur = await conn.execute("SELECT token_hash, token_hint FROM api_tokens")
    row = await cur.fetchone()
    assert row["token_hint"] == token[-4:] and token.encode() not in bytes(row["token_hash"])
    assert (await user_for_token(conn, token))["email"] == "t@example.com"
    assert await user_for_token(conn, token + "x") is None
    cur = await conn.execute("SELECT id FROM api_tokens")
    await revoke_token(conn, user_id=user["id"], token_id=(await cur.fetchone())["id"])
    assert await user_for_token(conn, token) is None


def test_crypto_round_trip_and_mask():
    token = encrypt_secret("EAAB-secret-access-token-1234")
    assert "secret" not in token
    assert decrypt_secret(token) == "EAAB-secret-access-token-1234"
    assert (
        decrypt_secret(encrypt_secret("x", secret_key="other" * 8), secret_key="other" * 8) == "x"
    )
    with pytest.raises(SecretDecryptionError):
        decrypt_secret(encrypt_secret("x", secret_key="another-key" * 4))
    assert mask("EAAB-secret-access-token-1234") == "…1234"
    assert mask("abc") == "…"


def _scope_app(app: FastAPI) -> FastAPI:
    @app.get("/api/v1/_test/scope")
    async def scope_route(scope: deps.AgentScope = Depends(deps.agent_scope)) -> dict:
        return {"agent_id": scope.agent_id, "prefix": scope.tables.prefix, "user": scope.user.email}

    @app.get("/api/v1/_test/admin")
    async def admin_route(user: deps.CurrentUser = Depends(deps.require_admin)) -> dict:
        return {"email": user.email}

    return app


async def test_agent_scope_and_admin_dependencies(app, conn):
    _scope_app(app)
    a = await make_agent_user(conn, "a@example.com")
    b = await make_agent_user(conn, "b@example.com")
    admin = await make_admin(conn)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as c:
        r = await c.get("/api/v1/_test/scope")
        assert r.status_code == 401 and "authentication required" in r.json()["detail"]
        r = await c.get("/api/v1/_test/scope", headers=bearer("wacrm_forged" + "x" * 30))
        assert r.status_code == 401
        r = await c.get("/api/v1/_test/scope", headers=bearer(a["token"]))
        assert r.json() == {
            "agent_id": a["agent"]["id"],
            "prefix": a["agent"]["agent_prefix"],
            "user": "a@example.com",
        }
        r = await c.get(
            "/api/v1/_test/scope", params={"agent_id": a["agent"]["id"]}, headers=bearer(a["token"])
        )
        assert r.status_code == 200
        r = await c.get(
            "/api/v1/_test/scope", params={"agent_id": b["agent"]["id"]}, headers=bearer(a["token"])
        )
        assert r.status_code == 404
        r = await c.get("/api/v1/_test/scope", headers=bearer(admin["token"]))
        assert r.status_code == 400 and "agent_id" in r.json()["detail"]
        r = await c.get(
            "/api/v1/_test/scope",
            params={"agent_id": b["agent"]["id"]},
            headers=bearer(admin["token"]),
        )
        assert r.json()["agent_id"] == b["agent"]["id"]
        r = await c.get(
            "/api/v1/_test/scope", params={"agent_id": 999999}, headers=bearer(admin["token"])
        )
        assert r.status_code == 404
        assert (await c.get("/api/v1/_test/admin", headers=bearer(a["token"]))).status_code == 403
        assert (
            await c.get("/api/v1/_test/admin", headers=bearer(admin["token"]))
        ).status_code == 200
