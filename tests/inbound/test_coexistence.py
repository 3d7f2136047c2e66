"""Coexistence: Business-app echoes, the history backfill, the owner's address book."""

from __future__ import annotations

from tests.inbound.conftest import deliver, load, rows


async def _all(conn, agent, query, *args):
    return await rows(conn, agent["tables"].query(query), *args)


async def _processed(conn):
    return {j["status"] for j in await rows(conn, "SELECT status FROM webhook_journal")}


async def test_echoes_are_outbound_from_the_business_app(client, conn, agent):
    await deliver(client, load("text_old_shape"))
    [before] = await _all(conn, agent, "SELECT * FROM {customers}")
    for _ in range(2):  # re-delivered: stored once
        assert (await deliver(client, load("smb_message_echoes"))).status_code == 200
    echoes = await _all(
        conn, agent, "SELECT * FROM {messages} WHERE origin = 'business_app' ORDER BY id"
    )
    assert [m["wamid"] for m in echoes] == ["wamid.ECHO_1", "wamid.ECHO_2"]
    assert all(m["direction"] == "outbound" and m["status"] == "sent" for m in echoes)
    assert echoes[1]["media_type"] == "image" and echoes[1]["caption"] == "This one"
    assert echoes[1]["media_status"] == "pending"
    [c] = await _all(conn, agent, "SELECT * FROM {customers}")
    # live in the inbox, but neither the window nor the unread count moves
    assert c["last_message_id"] == echoes[1]["id"]
    assert c["last_inbound_at"] == before["last_inbound_at"]
    assert c["unread_count"] == before["unread_count"]
    [cfg] = await rows(conn, "SELECT coexistence_since FROM whatsapp_configuration")
    assert cfg["coexistence_since"] is not None
    await deliver(client, load("smb_message_echoes_revoke"))  # the owner deleted it on the phone
    [m] = await _all(conn, agent, "SELECT * FROM {messages} WHERE wamid = 'wamid.ECHO_1'")
    assert m["deleted_at"] is not None and m["message"] == ""
    assert await _processed(conn) == {"processed"}


async def test_history_is_imported_once_without_moving_the_inbox(client, conn, agent):
    await deliver(client, load("text_old_shape"))
    [before] = await _all(conn, agent, "SELECT * FROM {customers}")
    for _ in range(2):
        assert (await deliver(client, load("history"))).status_code == 200
    hist = await _all(
        conn, agent, "SELECT * FROM {messages} WHERE origin = 'history' ORDER BY wamid"
    )
    assert [(m["wamid"], m["direction"], m["is_read"]) for m in hist] == [
        ("wamid.HIST_1", "inbound", True),
        ("wamid.HIST_2", "outbound", True),
        ("wamid.HIST_3", "inbound", True),
    ]
    assert int(hist[0]["timestamp"].timestamp()) == 1727000000  # the original time
    assert hist[1]["status"] == "read"
    customers = {c["phone"]: c for c in await _all(conn, agent, "SELECT * FROM {customers}")}
    anna = customers["+4915123456789"]
    assert anna["last_message_id"] == before["last_message_id"]
    assert anna["unread_count"] == before["unread_count"]
    assert customers["+4367612345678"]["unread_count"] == 0
    [chunk] = await rows(conn, "SELECT * FROM history_chunks")
    assert (chunk["phase"], chunk["chunk_order"], chunk["progress"], chunk["messages"]) == (
        1,
        2,
        40,
        3,
    )
    assert await _processed(conn) == {"processed"}


async def test_declined_history_is_recorded(client, conn, agent):
    assert (await deliver(client, load("history_declined"))).status_code == 200
    [chunk] = await rows(conn, "SELECT * FROM history_chunks")
    assert chunk["error_code"] == 2593109 and chunk["phase"] == -1
    assert "turned off" in chunk["error_title"]


async def test_address_book_names_kept_apart(client, conn, agent):
    await deliver(client, load("text_old_shape"))
    assert (await deliver(client, load("smb_app_state_sync"))).status_code == 200
    cs = await _all(conn, agent, "SELECT * FROM {customers}")
    [anna] = cs  # the removed contact was not a customer: none is made for it
    assert anna["address_book_name"] == "Anna (blue dress)"
    assert anna["profile_name"] == "Anna Schmidt" and anna["name"] == "Anna Schmidt"
    sync = load("smb_app_state_sync")
    sync["entry"][0]["changes"][0]["value"]["state_sync"][0]["action"] = "remove"
    sync["entry"][0]["changes"][0]["value"]["state_sync"][0]["metadata"]["timestamp"] = "1732891300"
    await deliver(client, sync)
    [anna] = await _all(conn, agent, "SELECT * FROM {customers}")
    assert anna["address_book_name"] is None and anna["name"] == "Anna Schmidt"
    assert await _processed(conn) == {"processed"}


async def test_numbers_page_shows_coexistence_and_the_history_import(client, conn, agent):
    from tests.web.test_admin_pages import _admin

    await _admin(client, conn)
    page = (await client.get("/admin/numbers")).text
    assert "Cloud API only" in page and "Chat history" not in page
    await deliver(client, load("history"))
    page = (await client.get("/admin/numbers")).text
    assert "Coexistence: also used in the WhatsApp Business app" in page
    assert "40% imported: 3 messages in 1 parts" in page
    await deliver(client, load("history_declined"))
    page = (await client.get("/admin/numbers")).text
    assert "Not shared: History sharing is turned off" in page


async def test_chat_marks_business_app_and_history_messages(client, conn, agent):
    from tests.web.conftest import PASSWORD, sign_in
    from wacrm.accounts import passwords

    await conn.execute(
        "INSERT INTO user_credentials (user_id, password_hash) VALUES (%s, %s)",
        (agent["user_id"], await passwords.hash_password(PASSWORD)),
    )
    await deliver(client, load("text_old_shape"))
    await deliver(client, load("smb_message_echoes"))
    await deliver(client, load("history"))
    [c] = await _all(conn, agent, "SELECT id FROM {customers} WHERE phone = '+4915123456789'")
    await sign_in(client, "seller@example.com")
    page = (await client.get(f"/chat/{c['id']}")).text
    assert "WhatsApp Business app" in page and "Yes, it is still available in M" in page
    assert "Do you ship to Austria?" in page and 'class="pill history"' in page
    await deliver(client, load("smb_app_state_sync"))
    panel = (await client.get(f"/chat/{c['id']}/panel")).text
    assert "Name in the Business app" in panel and "Anna (blue dress)" in panel
