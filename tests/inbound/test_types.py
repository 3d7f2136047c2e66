"""Every message type stored faithfully; reactions, orders, statuses and events."""

from __future__ import annotations

import json

import psycopg
import pytest

from tests.inbound.conftest import deliver, load, rows


async def _message(conn, agent, wamid):
    [m] = await rows(
        conn, agent["tables"].query("SELECT * FROM {messages} WHERE wamid = %s"), wamid
    )
    return m


@pytest.mark.parametrize(
    ("name", "wamid", "text", "media_type"),
    [
        ("image", "wamid.IMAGE_1", "This one", "image"),
        ("video", "wamid.VIDEO_1", "unboxing", "video"),
        ("audio_voice", "wamid.AUDIO_1", "🎤 Voice message", "audio"),
        ("document", "wamid.DOC_1", "invoice-2024.pdf", "document"),
        ("sticker", "wamid.STICKER_1", "Sticker", "sticker"),
        (
            "location",
            "wamid.LOCATION_1",
            "📍 Alexanderplatz, 10178 Berlin (52.520008, 13.404954)",
            "location",
        ),
        ("contacts", "wamid.CONTACTS_1", "👤 Max Mustermann (+49 30 1234567)", "contacts"),
        ("interactive_button_reply", "wamid.IBUTTON_1", "Yes, confirm", "interactive"),
        ("interactive_list_reply", "wamid.ILIST_1", "Size M — Medium", "interactive"),
        ("interactive_nfm_reply", "wamid.INFM_1", "Sent", "interactive"),
        ("button", "wamid.BUTTON_1", "Track my order", "button"),
        (
            "unsupported_errors",
            "wamid.UNSUP_1",
            "[message not supported: 131051 Message type unknown"
            " (Message type is currently not supported.)]",
            "unsupported",
        ),
        ("unknown_type", "wamid.UNKNOWN_1", "[unsupported message type: hologram]", "unsupported"),
        ("request_welcome", "wamid.WELCOME_1", "[the customer opened the chat]", "system"),
    ],
)
async def test_every_type(client, conn, agent, name, wamid, text, media_type):
    payload = load(name)
    assert (await deliver(client, payload)).status_code == 200
    m = await _message(conn, agent, wamid)
    assert m["message"] == text and m["media_type"] == media_type and m["direction"] == "inbound"
    raw = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    assert m["raw"] == raw and m["wa_type"] == raw["type"]
    if media_type in ("image", "video", "audio", "document", "sticker"):
        body = raw[raw["type"]]
        assert m["media_id"] == body["id"] and m["media_mime_type"] == body["mime_type"]
        assert m["media_status"] == "pending" and m["caption"] == body.get("caption")
        assert m["media_filename"] == body.get("filename")
        [job] = await rows(conn, "SELECT entrypoint, payload FROM pgqueuer")
        assert job["entrypoint"] == "media.download"
        assert json.loads(bytes(job["payload"]))["wamid"] == wamid
    [j] = await rows(conn, "SELECT status FROM webhook_journal")
    assert j["status"] == "processed"


async def test_context_is_kept(client, conn, agent):
    await deliver(client, load("interactive_button_reply"))
    await deliver(client, load("reply_context"))
    assert (await _message(conn, agent, "wamid.IBUTTON_1"))["context_wamid"] == "wamid.OUT_ASK_1"
    assert (await _message(conn, agent, "wamid.REPLY_1"))["context_wamid"] == "wamid.TEXT_OLD_1"


async def test_reactions_attach_and_clear(client, conn, agent):
    await deliver(client, load("text_old_shape"))
    await deliver(client, load("reaction"))
    assert (await _message(conn, agent, "wamid.TEXT_OLD_1"))["reaction"] == "❤️"
    assert len(await rows(conn, agent["tables"].query("SELECT id FROM {messages}"))) == 1
    await deliver(client, load("reaction_removed"))
    assert (await _message(conn, agent, "wamid.TEXT_OLD_1"))["reaction"] is None
    # a reaction to a message we do not have changes nothing and is not an error
    payload = load("reaction")
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"]["message_id"] = (
        "wamid.NOPE"
    )
    assert (await deliver(client, payload)).status_code == 200
    assert {j["status"] for j in await rows(conn, "SELECT status FROM webhook_journal")} == {
        "processed"
    }


async def test_order_message_creates_an_order(client, conn, agent):
    t = agent["tables"]
    for _ in range(2):
        assert (await deliver(client, load("order"))).status_code == 200
    [o] = await rows(conn, t.query("SELECT * FROM {orders}"))
    assert o["source"] == "whatsapp_catalog" and o["source_wamid"] == "wamid.ORDER_1"
    assert o["currency"] == "EUR" and o["catalog_id"] == "987654321"
    items = await rows(
        conn,
        t.query(
            "SELECT name, product_retailer_id, quantity, price FROM {orders_items} WHERE order_id = %s ORDER BY id"
        ),
        o["id"],
    )
    assert [(i["name"], i["quantity"], str(i["price"])) for i in items] == [
        ("SKU-DRESS-BLUE", 2, "49.9"),
        ("SKU-BELT", 1, "15.00"),
    ]
    m = await _message(conn, agent, "wamid.ORDER_1")
    assert m["order_id"] == o["id"] and m["media_type"] == "order"
    assert m["message"] == "🛒 Order with 2 items: Please deliver Friday"
    assert len(await rows(conn, t.query("SELECT id FROM {messages}"))) == 1


async def test_catalog_order_without_currency_takes_the_workspace_default(client, conn, agent):
    t = agent["tables"]
    await conn.execute(
        "UPDATE agents SET default_currency = 'BRL' WHERE id = %s", (agent["agent"]["id"],)
    )
    payload = load("order")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    for item in message["order"]["product_items"]:
        item.pop("currency", None)
    assert (await deliver(client, payload)).status_code == 200
    [o] = await rows(conn, t.query("SELECT currency FROM {orders}"))
    assert o["currency"].strip() == "BRL"


async def _outbound(conn, agent, wamid="wamid.OUT_1"):
    t = agent["tables"]
    await conn.execute(
        t.query(
            "INSERT INTO {customers} (name, phone) VALUES ('Anna', '+4915123456789') ON CONFLICT DO NOTHING"
        )
    )
    await conn.execute(
        t.query(
            "INSERT INTO {messages} (customer_id, message, direction, wamid, status)"
            " SELECT id, 'Your order shipped', 'outbound', %s, 'accepted' FROM {customers} LIMIT 1"
        ),
        (wamid,),
    )


async def test_statuses_never_go_backwards(client, conn, agent):
    await _outbound(conn, agent)
    await deliver(client, load("status_read"))
    await deliver(client, load("status_delivered"))
    await deliver(client, load("status_sent"))
    m = await _message(conn, agent, "wamid.OUT_1")
    assert m["status"] == "read" and int(m["status_at"].timestamp()) == 1732891002


async def test_failed_status_keeps_the_error(client, conn, agent):
    await _outbound(conn, agent)
    await deliver(client, load("status_sent"))
    await deliver(client, load("status_failed"))
    m = await _message(conn, agent, "wamid.OUT_1")
    assert m["status"] == "failed" and m["error_code"] == 131047
    assert m["error_title"] == "Re-engagement message" and "24 hours" in m["error_details"]


async def test_status_before_the_send_is_recorded(client, conn, agent):
    assert (await deliver(client, load("status_delivered"))).status_code == 200
    assert (await deliver(client, load("status_unknown_wamid"))).status_code == 200
    assert {j["status"] for j in await rows(conn, "SELECT status FROM webhook_journal")} == {
        "processed"
    }
    await _outbound(conn, agent)  # the send is recorded after its status arrived
    m = await _message(conn, agent, "wamid.OUT_1")
    assert m["status"] == "delivered" and int(m["status_at"].timestamp()) == 1732891001
    left = await rows(conn, "SELECT wamid FROM inbound_early_statuses")
    assert [r["wamid"] for r in left] == ["wamid.NEVER_SENT"]


async def test_value_errors_are_accepted(client, conn, agent):
    assert (await deliver(client, load("value_errors"))).status_code == 200
    [j] = await rows(conn, "SELECT status FROM webhook_journal")
    assert j["status"] == "processed"


async def test_events_are_published(client, conn, agent, db_url):
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as listener:
        await listener.execute("LISTEN wacrm_events")
        await _outbound(conn, agent)
        await deliver(client, load("text_old_shape"))
        await deliver(client, load("status_delivered"))
        await deliver(client, load("order"))
        events = []
        gen = listener.notifies(timeout=2.0, stop_after=4)
        async for n in gen:
            events.append(json.loads(n.payload))
    [msg] = await rows(
        conn,
        agent["tables"].query(
            "SELECT id, customer_id FROM {messages} WHERE wamid = 'wamid.TEXT_OLD_1'"
        ),
    )
    aid = agent["agent"]["id"]
    assert {
        "agent_id": aid,
        "kind": "message",
        "customer_id": msg["customer_id"],
        "message_id": msg["id"],
        "order_id": None,
    } in events
    kinds = [e["kind"] for e in events]
    assert kinds.count("status") == 1 and kinds.count("order") == 1 and kinds.count("message") == 2
