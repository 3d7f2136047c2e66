"""The webhook endpoint: handshake, signatures, journal, exactly-once, routing, failures and replay."""

from __future__ import annotations

import asyncio
import json

from tests.inbound.conftest import APP_SECRET, PNID, deliver, load, rows, sign
from wacrm.inbound import ingest as inbound


async def test_handshake(client, agent):
    ok = await client.get(
        "/webhooks/whatsapp",
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": "verify-token-abc",
            "hub.challenge": "1158201444",
        },
    )
    assert ok.status_code == 200 and ok.text == "1158201444"
    assert ok.headers["content-type"].startswith("text/plain")
    for params in (
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "verify-token-abc", "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ):
        assert (await client.get("/webhooks/whatsapp", params=params)).status_code == 403


async def test_text_message_old_shape(client, conn, agent):
    r = await deliver(client, load("text_old_shape"))
    assert r.status_code == 200
    t = agent["tables"]
    [c] = await rows(conn, t.query("SELECT * FROM {customers}"))
    assert c["phone"] == "+4915123456789" and c["wa_id"] == "4915123456789" and c["bsuid"] is None
    assert c["name"] == "Anna Schmidt" and c["unread_count"] == 1
    [m] = await rows(conn, t.query("SELECT * FROM {messages}"))
    assert (
        m["message"] == "Hello, is the blue dress still available?" and m["direction"] == "inbound"
    )
    assert m["wamid"] == "wamid.TEXT_OLD_1" and m["is_read"] is False and m["media_type"] == "none"
    assert m["raw"]["text"]["body"].startswith("Hello") and m["customer_id"] == c["id"]
    assert int(m["timestamp"].timestamp()) == 1732890000
    assert c["last_message_id"] == m["id"] and c["last_inbound_at"] == m["timestamp"]
    [j] = await rows(conn, "SELECT * FROM webhook_journal")
    assert j["status"] == "processed" and j["phone_number_id"] == PNID and j["error"] is None
    assert json.loads(bytes(j["body"])) == load("text_old_shape")
    [cfg] = await rows(conn, "SELECT last_webhook_at FROM whatsapp_configuration")
    assert cfg["last_webhook_at"] is not None


async def test_redelivery_makes_one_row(client, conn, agent):
    payload = load("text_old_shape")
    for _ in range(2):
        assert (await deliver(client, payload)).status_code == 200
    t = agent["tables"]
    assert len(await rows(conn, t.query("SELECT id FROM {messages}"))) == 1
    [c] = await rows(conn, t.query("SELECT unread_count FROM {customers}"))
    assert c["unread_count"] == 1
    assert len(await rows(conn, "SELECT id FROM webhook_journal")) == 2


async def test_fifty_concurrent_deliveries(client, conn, agent):
    body = json.dumps(load("three_messages_two_customers")).encode()
    results = await asyncio.gather(*(deliver(client, body) for _ in range(50)))
    assert {r.status_code for r in results} == {200}
    t = agent["tables"]
    assert len(await rows(conn, t.query("SELECT id FROM {messages}"))) == 3
    cs = await rows(conn, t.query("SELECT name, unread_count FROM {customers} ORDER BY name"))
    assert [(c["name"], c["unread_count"]) for c in cs] == [("Anna Schmidt", 2), ("Ben Okafor", 1)]
    assert len(await rows(conn, "SELECT id FROM webhook_journal WHERE status = 'processed'")) == 50


async def test_three_messages_two_customers(client, conn, agent):
    assert (await deliver(client, load("three_messages_two_customers"))).status_code == 200
    t = agent["tables"]
    ms = await rows(
        conn,
        t.query(
            "SELECT m.message, c.phone FROM {messages} m JOIN {customers} c ON c.id = m.customer_id ORDER BY m.id"
        ),
    )
    assert [(m["message"], m["phone"]) for m in ms] == [
        ("first from Anna", "+4915123456789"),
        ("hello from Ben", "+2348031234567"),
        ("second from Anna", "+4915123456789"),
    ]
    [anna] = await rows(conn, t.query("SELECT * FROM {customers} WHERE phone = '+4915123456789'"))
    [last] = await rows(conn, t.query("SELECT id FROM {messages} WHERE wamid = 'wamid.MULTI_3'"))
    assert anna["last_message_id"] == last["id"] and anna["unread_count"] == 2


async def test_bad_signatures_store_nothing(client, conn, agent):
    body = json.dumps(load("text_old_shape")).encode()
    missing = await client.post("/webhooks/whatsapp", content=body)
    assert missing.status_code == 401
    forged = await deliver(client, body, secret="not-the-app-secret")
    assert forged.status_code == 403
    garbage = await deliver(client, body, signature="sha256=zz")
    assert garbage.status_code == 403
    tampered = await deliver(client, body.replace(b"blue", b"red!"), signature=sign(body))
    assert tampered.status_code == 403
    assert await rows(conn, "SELECT id FROM webhook_journal") == []
    assert await rows(conn, agent["tables"].query("SELECT id FROM {messages}")) == []


async def test_not_json(client, conn, app, agent):
    # without a fallback secret a body with no phone_number_id cannot be verified
    assert (await deliver(client, b"this is not json")).status_code == 403
    app.state.settings = app.state.settings.model_copy(
        update={"whatsapp_app_secret": "fallback-secret"}
    )
    assert (await deliver(client, b"this is not json", secret="fallback-secret")).status_code == 200
    [j] = await rows(conn, "SELECT * FROM webhook_journal")
    assert (
        j["status"] == "failed"
        and "not JSON" in j["error"]
        and bytes(j["body"]) == b"this is not json"
    )


async def test_wrong_shape_is_journaled_as_failed(client, conn, agent):
    for name in ("wrong_shape", "not_whatsapp"):
        assert (await deliver(client, load(name))).status_code == 200
    js = await rows(conn, "SELECT status, error FROM webhook_journal ORDER BY id")
    assert [j["status"] for j in js] == ["failed", "failed"]
    assert all("shape" in j["error"] for j in js)
    assert await rows(conn, agent["tables"].query("SELECT id FROM {messages}")) == []


async def test_unknown_number_then_replay(client, conn, app, agent):
    payload = load("text_old_shape")
    payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "777000777"
    # unknown number: only the fallback secret can verify it
    assert (await deliver(client, payload)).status_code == 403
    app.state.settings = app.state.settings.model_copy(
        update={"whatsapp_app_secret": "fallback-secret"}
    )
    assert (await deliver(client, payload, secret="fallback-secret")).status_code == 200
    [j] = await rows(conn, "SELECT * FROM webhook_journal")
    assert j["status"] == "failed" and "unknown phone_number_id 777000777" in j["error"]

    await conn.execute("UPDATE whatsapp_configuration SET phone_number_id = '777000777'")
    [result] = await inbound.replay(conn, failed=True)
    assert result == {"id": j["id"], "status": "processed", "error": None}
    [j2] = await rows(conn, "SELECT * FROM webhook_journal")
    assert j2["status"] == "processed" and j2["attempts"] == 2 and j2["error"] is None
    assert len(await rows(conn, agent["tables"].query("SELECT id FROM {messages}"))) == 1
    # replaying again changes nothing
    await inbound.replay(conn, journal_id=j["id"])
    assert len(await rows(conn, agent["tables"].query("SELECT id FROM {messages}"))) == 1


async def test_inactive_number_is_kept_failed(client, conn, agent):
    await conn.execute("UPDATE whatsapp_configuration SET is_active = false")
    assert (await deliver(client, load("text_old_shape"))).status_code == 200
    [j] = await rows(conn, "SELECT * FROM webhook_journal")
    assert j["status"] == "failed" and "inactive" in j["error"]
    assert await rows(conn, agent["tables"].query("SELECT id FROM {messages}")) == []


async def test_routes_to_the_right_agent(client, conn, agent):
    from tests.helpers import WEBHOOK_URL, make_agent_user
    from wacrm.numbers import service as numbers

    other = await make_agent_user(conn, "other@example.com")
    await numbers.configure(
        conn,
        webhook_url=WEBHOOK_URL,
        user_id=other["user_id"],
        whatsapp_number="+15550002222",
        phone_number_id="200200200",
        app_secret="other-secret",
    )
    payload = load("text_old_shape")
    payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "200200200"
    assert (await deliver(client, payload, secret=APP_SECRET)).status_code == 403
    assert (await deliver(client, payload, secret="other-secret")).status_code == 200
    assert len(await rows(conn, other["tables"].query("SELECT id FROM {messages}"))) == 1
    assert await rows(conn, agent["tables"].query("SELECT id FROM {messages}")) == []
