"""Every recorded payload of every subscribed field: answered 200, journaled, never a 5xx."""

from __future__ import annotations

import pytest

from tests.inbound.conftest import WEBHOOKS, deliver, load, rows

SUBSCRIBED = {
    "messages", "user_preferences", "smb_message_echoes", "history", "smb_app_state_sync",
    "calls", "account_update", "phone_number_quality_update", "business_capability_update",
    "message_template_status_update", "template_category_update",
    "message_template_quality_update",
}  # fmt: skip
NAMES = sorted(p.stem for p in WEBHOOKS.glob("*.json"))


def test_a_recorded_payload_for_every_subscribed_field():
    fields = set()
    for name in NAMES:
        data = load(name)
        for entry in data.get("entry") or [] if isinstance(data, dict) else []:
            if isinstance(entry, dict):
                fields |= {
                    c.get("field") for c in entry.get("changes") or [] if isinstance(c, dict)
                }
    assert fields >= SUBSCRIBED


@pytest.mark.parametrize("name", NAMES)
async def test_recorded_payload_is_answered_and_journaled(client, conn, agent, name):
    response = await deliver(client, load(name))
    assert response.status_code < 500
    if response.status_code == 200:
        [j] = await rows(conn, "SELECT status, error FROM webhook_journal")
        expected_failures = {"not_whatsapp", "wrong_shape"}
        assert j["status"] == "processed" or name in expected_failures, j
