"""WhatsApp configurations: encrypted secrets, routing by phone_number_id, one number per user."""

from __future__ import annotations

import pytest

from tests.helpers import WEBHOOK_URL, make_agent_user
from wacrm.accounts.service import create_user
from wacrm.numbers import service as numbers


async def test_configure_encrypts_and_routes(conn):
    a = await make_agent_user(conn, "a@example.com")
    shown = await numbers.configure(
        conn,
        webhook_url=WEBHOOK_URL,
        user_id=a["user_id"],
        whatsapp_number="+15550001111",
        phone_number_id="1000001",
        business_account_id="2000",
        access_token="EAAB-access-token-wxyz",
        app_secret="app-secret-9876",
        verify_token="verify-me-1234",
    )
    assert shown["access_token_hint"] == "…wxyz" and shown["app_secret_hint"] == "…9876"
    assert "api_key" not in shown and "app_secret" not in shown and "verify_token" not in shown
    assert shown["webhook_url"].endswith("/webhooks/whatsapp")
    cur = await conn.execute("SELECT api_key, app_secret FROM whatsapp_configuration")
    stored = await cur.fetchone()
    assert "access-token" not in stored["api_key"] and "app-secret" not in stored["app_secret"]

    routed = await numbers.get_by_phone_number_id(conn, "1000001")
    assert routed["access_token"] == "EAAB-access-token-wxyz"
    assert routed["app_secret"] == "app-secret-9876"
    assert routed["verify_token"] == "verify-me-1234" and routed["is_active"] is True
    assert (
        routed["agent_id"] == a["agent"]["id"]
        and routed["agent_prefix"] == a["agent"]["agent_prefix"]
    )
    assert await numbers.get_by_phone_number_id(conn, "999") is None
    assert "verify-me-1234" in await numbers.list_verify_tokens(conn)

    # updating keeps what is not given
    await numbers.configure(
        conn, webhook_url=WEBHOOK_URL, user_id=a["user_id"], access_token="EAAB-new-token-abcd"
    )
    routed = await numbers.get_by_phone_number_id(conn, "1000001")
    assert (
        routed["access_token"] == "EAAB-new-token-abcd"
        and routed["app_secret"] == "app-secret-9876"
    )


async def test_phone_number_id_of_another_user_is_409_and_changes_nothing(conn):
    a = await make_agent_user(conn, "a@example.com")
    b = await create_user(conn, email="b@example.com", name="B", role="agent")
    await numbers.configure(
        conn,
        webhook_url=WEBHOOK_URL,
        user_id=a["user_id"],
        whatsapp_number="+1555",
        phone_number_id="42",
    )
    with pytest.raises(numbers.NumberError, match="already configured for another user") as info:
        await numbers.configure(
            conn,
            webhook_url=WEBHOOK_URL,
            user_id=b["id"],
            whatsapp_number="+1666",
            phone_number_id="42",
        )
    assert info.value.status == 409
    cur = await conn.execute("SELECT count(*) AS n FROM whatsapp_configuration")
    assert (await cur.fetchone())["n"] == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"phone_number_id": "abc"}, "numeric"),
        ({"whatsapp_number": " "}, "must not be empty"),
        ({"whatsapp_number": None}, "whatsapp_number is required"),
    ],
)
async def test_bad_configuration_changes_nothing(conn, kwargs, message):
    a = await make_agent_user(conn, "a@example.com")
    args = {"whatsapp_number": "+1555", "phone_number_id": "42"} | kwargs
    with pytest.raises(numbers.NumberError, match=message):
        await numbers.configure(conn, webhook_url=WEBHOOK_URL, user_id=a["user_id"], **args)
    cur = await conn.execute("SELECT count(*) AS n FROM whatsapp_configuration")
    assert (await cur.fetchone())["n"] == 0
