"""Customers' edits and deletions: versions kept, content removed, exactly once, in any order."""

from __future__ import annotations

from tests.inbound.conftest import deliver, load, rows


async def _message(conn, agent, wamid):
    [m] = await rows(
        conn, agent["tables"].query("SELECT * FROM {messages} WHERE wamid = %s"), wamid
    )
    return m


async def _versions(conn, agent):
    return await rows(
        conn, agent["tables"].query("SELECT * FROM {message_versions} ORDER BY replaced_at, id")
    )


async def test_edit_updates_text_and_keeps_the_previous_version(client, conn, agent):
    await deliver(client, load("text_old_shape"))
    before = (await _message(conn, agent, "wamid.TEXT_OLD_1"))["message"]
    for _ in range(2):  # a re-delivered edit is applied once
        assert (await deliver(client, load("edit_text"))).status_code == 200
    m = await _message(conn, agent, "wamid.TEXT_OLD_1")
    assert m["message"] == "Hello, I meant tomorrow" and m["edited_at"] is not None
    [v] = await _versions(conn, agent)
    assert v["message_id"] == m["id"] and v["text"] == before
    # the edit is not a message of its own
    assert len(await rows(conn, agent["tables"].query("SELECT id FROM {messages}"))) == 1
    assert {j["status"] for j in await rows(conn, "SELECT status FROM webhook_journal")} == {
        "processed"
    }


async def test_edit_of_a_caption(client, conn, agent):
    await deliver(client, load("image"))
    await deliver(client, load("edit_caption"))
    m = await _message(conn, agent, "wamid.IMAGE_1")
    assert m["caption"] == "This one, in blue" and m["media_id"] is not None
    [v] = await _versions(conn, agent)
    assert v["caption"] == "This one"


async def test_revoke_removes_the_content(client, conn, agent):
    await deliver(client, load("text_old_shape"))
    await deliver(client, load("edit_text"))
    await deliver(client, load("revoke"))
    m = await _message(conn, agent, "wamid.TEXT_OLD_1")
    assert m["deleted_at"] is not None and m["message"] == "" and m["raw"] is None
    assert await _versions(conn, agent) == []  # earlier versions go with it
    # an edit arriving after the deletion does not bring content back
    edit = load("edit_text")
    edit["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = "wamid.EDIT_LATE"
    await deliver(client, edit)
    assert (await _message(conn, agent, "wamid.TEXT_OLD_1"))["message"] == ""


async def test_changes_before_their_original_apply_when_it_arrives(client, conn, agent):
    await deliver(client, load("edit_caption"))
    await deliver(client, load("revoke"))
    assert len(await rows(conn, "SELECT * FROM inbound_early_changes")) == 2
    await deliver(client, load("image"))
    await deliver(client, load("text_old_shape"))
    img = await _message(conn, agent, "wamid.IMAGE_1")
    assert img["caption"] == "This one, in blue" and img["edited_at"] is not None
    text = await _message(conn, agent, "wamid.TEXT_OLD_1")
    assert text["deleted_at"] is not None and text["message"] == ""
    assert await rows(conn, "SELECT * FROM inbound_early_changes") == []


async def test_edit_and_original_in_one_batch(conn, agent):
    from wacrm.inbound import ingest
    from wacrm.inbound.routing import RouteCache

    async with conn.transaction():
        await ingest.ingest(conn, [load("edit_text"), load("text_old_shape")], RouteCache())
    m = await _message(conn, agent, "wamid.TEXT_OLD_1")
    assert m["message"] == "Hello, I meant tomorrow"


async def test_an_edit_naming_nothing_is_not_an_error(client, conn, agent):
    edit = load("edit_text")
    del edit["entry"][0]["changes"][0]["value"]["messages"][0]["edit"]
    assert (await deliver(client, edit)).status_code == 200
    assert {j["status"] for j in await rows(conn, "SELECT status FROM webhook_journal")} == {
        "processed"
    }
