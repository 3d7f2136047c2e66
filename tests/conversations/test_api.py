"""The conversations JSON API: agent scope, pages, 404 for another agent's customer, bad input."""

from __future__ import annotations

from tests.conversations.factory import add_customer, add_message, minutes
from tests.helpers import bearer, make_admin, make_agent_user


async def test_agent_reads_inbox_chat_and_marks_read(client, conn):
    me = await make_agent_user(conn, "me@example.com")
    t = me["tables"]
    ids = [await add_customer(conn, t, f"C{i}", phone=f"49170000{i:03d}") for i in range(3)]
    for i, cid in enumerate(ids):
        await add_message(conn, t, cid, f"hello {i}", at=minutes(i))
    h = bearer(me["token"])
    r = await client.get("/api/v1/conversations", params={"limit": 2}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [c["customer_id"] for c in body["items"]] == [ids[2], ids[1]]
    assert body["items"][0]["last_message"]["preview"] == "hello 2"
    assert body["items"][0]["unread_count"] == 1
    r2 = await client.get(
        "/api/v1/conversations", params={"cursor": body["next_cursor"]}, headers=h
    )
    assert [c["customer_id"] for c in r2.json()["items"]] == [ids[0]]
    assert r2.json()["next_cursor"] is None
    r = await client.get(f"/api/v1/conversations/{ids[1]}/messages", headers=h)
    assert r.status_code == 200 and r.json()["items"][0]["text"] == "hello 1"
    r = await client.post(f"/api/v1/conversations/{ids[1]}/read", headers=h)
    assert r.status_code == 200 and r.json()["marked"] == 1
    r = await client.get(f"/api/v1/conversations/{ids[1]}", headers=h)
    assert r.json()["unread_count"] == 0
    r = await client.get("/api/v1/conversations", params={"unread": "true", "q": "C"}, headers=h)
    assert {c["customer_id"] for c in r.json()["items"]} == {ids[0], ids[2]}


async def test_another_agents_customer_answers_404_and_changes_nothing(client, conn):
    me = await make_agent_user(conn, "me@example.com")
    other = await make_agent_user(conn, "other@example.com")
    await add_customer(conn, me["tables"], "Mine", phone="4917000100")
    for i in range(3):  # the other agent has more customers: ids beyond mine exist only there
        cid = await add_customer(conn, other["tables"], f"Theirs {i}", phone=f"491700020{i}")
        await add_message(conn, other["tables"], cid, "secret", at=minutes(i))
    h = bearer(me["token"])
    for path in (f"/api/v1/conversations/{cid}", f"/api/v1/conversations/{cid}/messages"):
        r = await client.get(path, headers=h)
        assert r.status_code == 404 and "no conversation" in r.json()["detail"]
    r = await client.post(f"/api/v1/conversations/{cid}/read", headers=h)
    assert r.status_code == 404
    r = await client.get(
        "/api/v1/conversations", params={"agent_id": other["agent"]["id"]}, headers=h
    )
    assert r.status_code == 404
    cur = await conn.execute(
        other["tables"].query("SELECT unread_count FROM {customers} WHERE id = %s"), (cid,)
    )
    assert (await cur.fetchone())["unread_count"] == 1
    admin = await make_admin(conn)
    r = await client.get(
        "/api/v1/conversations",
        params={"agent_id": other["agent"]["id"]},
        headers=bearer(admin["token"]),
    )
    assert r.status_code == 200 and len(r.json()["items"]) == 3


async def test_bad_input_is_a_clear_4xx(client, conn):
    me = await make_agent_user(conn, "me@example.com")
    h = bearer(me["token"])
    assert (await client.get("/api/v1/conversations")).status_code == 401
    r = await client.get("/api/v1/conversations", params={"cursor": "garbage"}, headers=h)
    assert r.status_code == 400 and "cursor" in r.json()["detail"]
    for params in ({"limit": 0}, {"limit": 101}, {"unread": "maybe"}, {"q": "x" * 101}):
        assert (
            await client.get("/api/v1/conversations", params=params, headers=h)
        ).status_code == 422
    assert (await client.get("/api/v1/conversations/0/messages", headers=h)).status_code == 422
    # ids are {customer_id:int}: a word matches no route
    assert (await client.get("/api/v1/conversations/abc", headers=h)).status_code == 404
    assert (await client.get("/api/v1/conversations/99999999999", headers=h)).status_code == 422
