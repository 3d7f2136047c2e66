"""A payload signed with one number's app secret cannot write into another number's agent."""

from __future__ import annotations

import copy
from typing import Any

from tests.helpers import WEBHOOK_URL, make_agent_user
from tests.inbound.conftest import APP_SECRET, PNID, deliver, load, rows
from wacrm.numbers import service as numbers

OTHER_PNID = "106540352242999"


async def test_a_change_for_another_tenants_number_is_refused_whole(
    client: Any, conn: Any, agent: Any
) -> None:
    victim = await make_agent_user(conn, "victim@example.com")
    await numbers.configure(
        conn,
        webhook_url=WEBHOOK_URL,
        user_id=victim["user_id"],
        whatsapp_number="+15550002222",
        phone_number_id=OTHER_PNID,
        business_account_id="102290129340399",
        access_token="EAAB-victim-token",
        app_secret="victims-own-app-secret-987",
        verify_token="verify-victim",
    )
    payload = load("text_old_shape")
    forged = copy.deepcopy(payload["entry"][0])
    forged["changes"][0]["value"]["metadata"]["phone_number_id"] = OTHER_PNID
    forged["changes"][0]["value"]["messages"][0]["id"] = "wamid.FORGED-INTO-ANOTHER-TENANT"
    payload["entry"].append(forged)
    assert payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] == PNID

    response = await deliver(client, payload, secret=APP_SECRET)  # signed by the attacker's own app

    assert response.status_code == 200  # journaled (Meta must not re-deliver), not processed
    victim_prefix = victim["agent"]["agent_prefix"]
    assert await rows(conn, f"SELECT id FROM {victim_prefix}_messages") == []
    assert await rows(conn, f"SELECT id FROM {agent['agent']['agent_prefix']}_messages") == []
    journal = await rows(conn, "SELECT status, error FROM webhook_journal")
    assert journal[0]["status"] == "failed" and "different app secrets" in journal[0]["error"]
