"""WhatsApp's own marketing preference (`user_preferences`) recorded on the customer."""

from __future__ import annotations

from tests.inbound.conftest import deliver, load, rows


async def _customer(conn, agent):
    [c] = await rows(conn, agent["tables"].query("SELECT * FROM {customers}"))
    return c


async def test_stop_and_resume_recorded_with_their_dates(client, conn, agent):
    assert (await deliver(client, load("text_new_shape"))).status_code == 200
    assert (await deliver(client, load("user_preferences_stop"))).status_code == 200
    c = await _customer(conn, agent)
    assert c["opted_in"] is False and c["opt_in_source"] == "WhatsApp: marketing messages stopped"
    assert int(c["opt_in_changed_at"].timestamp()) == 1732890300
    await deliver(client, load("user_preferences_resume"))
    c = await _customer(conn, agent)
    assert c["opted_in"] is True and int(c["opt_in_changed_at"].timestamp()) == 1732890900
    # a re-delivered older stop does not undo the later resume
    await deliver(client, load("user_preferences_stop"))
    assert (await _customer(conn, agent))["opted_in"] is True
    assert {j["status"] for j in await rows(conn, "SELECT status FROM webhook_journal")} == {
        "processed"
    }


async def test_stop_of_an_unknown_customer_creates_them(client, conn, agent):
    await deliver(client, load("user_preferences_stop"))
    c = await _customer(conn, agent)
    assert c["opted_in"] is False and c["bsuid"] == "DE.13491208655302741918"
    assert c["phone"] == "+4915123456789"


async def test_unusable_preferences_are_not_errors(client, conn, agent):
    payload = load("user_preferences_stop")
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"] = []
    value["user_preferences"] = [{"category": "other"}, "x", {"value": "stop"}, {"wa_id": "1"}]
    assert (await deliver(client, payload)).status_code == 200
    assert await rows(conn, agent["tables"].query("SELECT * FROM {customers}")) == []
    [j] = await rows(conn, "SELECT status FROM webhook_journal")
    assert j["status"] == "processed"
