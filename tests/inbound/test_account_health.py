"""Account health webhooks: the numbers page, its history, and the agents' banner."""

from __future__ import annotations

from tests.inbound.conftest import deliver, load, rows


async def _config(conn):
    [c] = await rows(conn, "SELECT * FROM whatsapp_configuration")
    return c


async def test_restriction_quality_and_capability(client, conn, agent):
    for name in ("phone_number_quality_update", "business_capability_update"):
        assert (await deliver(client, load(name))).status_code == 200
    c = await _config(conn)
    assert c["messaging_limit_tier"] == "TIER_1000" and c["quality_event"] == "DOWNGRADE"
    assert c["cannot_send_reason"] is None
    assert (await deliver(client, load("account_update_restriction"))).status_code == 200
    c = await _config(conn)
    assert c["cannot_send_reason"].startswith("messaging restricted by Meta until 2024-12-06")
    assert c["needs_attention"].startswith("WhatsApp: messaging restricted")
    await deliver(client, load("account_update_violation"))
    await deliver(client, load("account_update_lifted"))
    c = await _config(conn)
    assert c["cannot_send_reason"] is None and c["needs_attention"] is None
    events = await rows(conn, "SELECT field, summary FROM number_health_events ORDER BY id")
    assert [e["field"] for e in events] == [
        "phone_number_quality_update",
        "business_capability_update",
        "account_update",
        "account_update",
        "account_update",
    ]
    assert "violation: SCAM" in events[3]["summary"]
    assert {j["status"] for j in await rows(conn, "SELECT status FROM webhook_journal")} == {
        "processed"
    }


async def test_ban_shows_on_the_numbers_page_and_as_the_agents_banner(client, conn, agent):
    from tests.web.conftest import PASSWORD, sign_in
    from tests.web.test_admin_pages import _admin
    from wacrm.accounts import passwords

    await deliver(client, load("account_update_ban"))
    await conn.execute(
        "INSERT INTO user_credentials (user_id, password_hash) VALUES (%s, %s)",
        (agent["user_id"], await passwords.hash_password(PASSWORD)),
    )
    await sign_in(client, "seller@example.com")
    inbox = await client.get("/inbox")
    assert "Your WhatsApp number cannot send messages" in inbox.text
    assert "the business account is disabled by Meta" in inbox.text
    client.cookies.clear()
    await _admin(client, conn)
    page = (await client.get("/admin/numbers")).text
    assert "Cannot send: the business account is disabled by Meta" in page
    assert "Account health history" in page and "ban: DISABLE" in page
