"""WhatsApp configurations API: secrets never in responses or logs; one phone number id per user."""

from __future__ import annotations

import logging

from tests.helpers import bearer, make_admin, make_agent_user
from wacrm.accounts.service import create_user

SECRETS = ("EAAB-very-secret-access-token-Q9Zx", "app-secret-value-7Kp2", "verify-token-value-3Jm8")


async def test_configure_masks_secrets_everywhere(client, conn, caplog):
    caplog.set_level(logging.DEBUG)
    admin = await make_admin(conn)
    a = await make_agent_user(conn, "a@example.com")
    h = bearer(admin["token"])
    body = {
        "user_id": str(a["user_id"]),
        "whatsapp_number": "+15550001111",
        "phone_number_id": "1000001",
        "business_account_id": "2000",
        "access_token": SECRETS[0],
        "app_secret": SECRETS[1],
        "verify_token": SECRETS[2],
    }
    r = await client.post("/api/v1/whatsapp/configurations", json=body, headers=h)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["access_token_hint"] == "…Q9Zx" and out["app_secret_hint"] == "…7Kp2"
    assert out["webhook_url"] == "http://testserver/webhooks/whatsapp" or out[
        "webhook_url"
    ].endswith("/webhooks/whatsapp")
    assert out["agent_id"] == a["agent"]["id"]
    texts = [r.text]
    texts.append((await client.get("/api/v1/whatsapp/configurations", headers=h)).text)
    texts.append((await client.get(f"/api/v1/whatsapp/configurations/{out['id']}", headers=h)).text)
    r = await client.patch(
        f"/api/v1/whatsapp/configurations/{out['id']}", json={"is_active": False}, headers=h
    )
    assert r.status_code == 200 and r.json()["is_active"] is False
    texts.append(r.text)
    texts.append((await client.get("/openapi.json")).text)
    texts.append(caplog.text)
    for secret in SECRETS:
        for text in texts:
            assert secret not in text
    cur = await conn.execute("SELECT api_key, app_secret FROM whatsapp_configuration")
    stored = await cur.fetchone()
    assert SECRETS[0] not in stored["api_key"] and SECRETS[1] not in stored["app_secret"]


async def test_phone_number_id_taken_and_second_config_are_409(client, conn):
    admin = await make_admin(conn)
    h = bearer(admin["token"])
    a = await create_user(conn, email="a@example.com", name="A", role="agent")
    b = await create_user(conn, email="b@example.com", name="B", role="agent")
    base = {"whatsapp_number": "+1555", "phone_number_id": "42"}
    r = await client.post(
        "/api/v1/whatsapp/configurations", json={"user_id": str(a["id"])} | base, headers=h
    )
    assert r.status_code == 201
    r = await client.post(
        "/api/v1/whatsapp/configurations", json={"user_id": str(b["id"])} | base, headers=h
    )
    assert r.status_code == 409 and "another user" in r.json()["detail"]
    r = await client.post(
        "/api/v1/whatsapp/configurations", json={"user_id": str(a["id"])} | base, headers=h
    )
    assert r.status_code == 409 and "already has" in r.json()["detail"]
    cur = await conn.execute("SELECT count(*) AS n FROM whatsapp_configuration")
    assert (await cur.fetchone())["n"] == 1
    r = await client.post(
        "/api/v1/whatsapp/configurations",
        json={"user_id": str(b["id"]), "whatsapp_number": "+1"},
        headers=bearer(admin["token"]) | {},
    )
    assert r.status_code == 201
