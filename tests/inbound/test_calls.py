"""Calls as chat lines, call permission replies, played statuses, unsupported explained."""

from __future__ import annotations

from tests.inbound.conftest import deliver, load, rows


async def _messages(conn, agent):
    return await rows(conn, agent["tables"].query("SELECT * FROM {messages} ORDER BY id"))


async def test_calls_become_chat_lines_once(client, conn, agent):
    for name in ("calls_connect", "calls_terminate_missed", "calls_terminate_missed",
                 "calls_terminate_answered", "calls_status_ringing"):  # fmt: skip
        assert (await deliver(client, load(name))).status_code == 200
    lines = await _messages(conn, agent)
    assert [m["message"] for m in lines] == ["📞 Missed call", "📞 Call 3 min 12 s"]
    assert all(m["wa_type"] == "call" and m["origin"] == "call" for m in lines)
    [c] = await rows(conn, agent["tables"].query("SELECT * FROM {customers}"))
    assert c["phone"] == "+4915123456789" and c["last_message_id"] == lines[1]["id"]
    assert {j["status"] for j in await rows(conn, "SELECT status FROM webhook_journal")} == {
        "processed"
    }


async def test_call_permission_reply_is_a_readable_line(client, conn, agent):
    await deliver(client, load("call_permission_reply"))
    [m] = await _messages(conn, agent)
    assert m["message"] == "📞 Call permission accepted"


async def test_played_status_and_reaction_on_the_business_message(client, conn, agent):
    t = agent["tables"]
    await deliver(client, load("text_old_shape"))
    [c] = await rows(conn, t.query("SELECT id FROM {customers}"))
    wamid = load("status_read")["entry"][0]["changes"][0]["value"]["statuses"][0]["id"]
    await conn.execute(
        t.query(
            "INSERT INTO {messages} (customer_id, message, direction, wamid, status)"
            " VALUES (%s, 'voice note', 'outbound', %s, 'delivered')"
        ),
        (c["id"], wamid),
    )
    await deliver(client, load("status_read"))
    await deliver(client, load("status_played"))
    reaction = load("reaction")
    reaction["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"]["message_id"] = wamid
    await deliver(client, reaction)
    [m] = await rows(conn, t.query("SELECT * FROM {messages} WHERE wamid = %s"), wamid)
    assert m["status"] == "played" and m["reaction"] == "❤️"
