"""Private notes (author-only edits, @mentions, the mentions filter) and canned responses."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conversations.factory import add_customer, add_message
from tests.helpers import bearer, make_agent_user
from wacrm.accounts.service import create_user
from wacrm.accounts.tokens import create_token
from wacrm.members import service as members
from wacrm.orders import service as orders


@pytest.fixture
async def desk(conn):
    owner = await make_agent_user(conn, "owner@example.com")
    mia = await create_user(conn, email="mia@example.com", name="Mia Rossi", role="agent")
    await members.add_member(conn, agent_id=owner["agent"]["id"], email="mia@example.com")
    tables = owner["tables"]
    ana = await add_customer(conn, tables, "Ana Lima", phone="+4915100000001")
    ben = await add_customer(conn, tables, "Ben", phone="+4915100000002")
    await add_message(conn, tables, ana, "hello")
    await add_message(conn, tables, ben, "hi")
    return {
        "owner": owner,
        "tables": tables,
        "auth": bearer(owner["token"]),
        "mia": bearer(await create_token(conn, user_id=mia["id"], name="t")),
        "mia_id": str(mia["id"]),
        "ana": ana,
        "ben": ben,
    }


async def test_notes_mentions_and_author_rights(client, desk):
    auth, mia, ana = desk["auth"], desk["mia"], desk["ana"]
    url = f"/api/v1/conversations/{ana}/notes"
    r = await client.post(
        url, json={"body": "Called her, @mia please send the invoice"}, headers=auth
    )
    assert r.status_code == 201, r.text
    note = r.json()
    assert note["mentions"] == [desk["mia_id"]] and note["mentioned_names"] == ["Mia Rossi"]
    assert note["author_name"] == "owner"
    r = await client.post(url, json={"body": "email@example.com is not a mention"}, headers=auth)
    assert r.json()["mentions"] == []
    listed = (await client.get(url, headers=mia)).json()
    assert [n["body"][:6] for n in listed] == ["Called", "email@"]
    # the mentions filter: Mia sees Ana's conversation, the owner (not mentioned) none
    r = await client.get("/api/v1/conversations", params={"mentions": "true"}, headers=mia)
    assert [c["name"] for c in r.json()["items"]] == ["Ana Lima"]
    r = await client.get("/api/v1/conversations", params={"mentions": "true"}, headers=auth)
    assert r.json()["items"] == []
    # only the author edits or deletes
    r = await client.patch(f"{url}/{note['id']}", json={"body": "changed"}, headers=mia)
    assert r.status_code == 403
    r = await client.delete(f"{url}/{note['id']}", headers=mia)
    assert r.status_code == 403
    r = await client.patch(f"{url}/{note['id']}", json={"body": "Invoice sent by me"}, headers=auth)
    assert r.status_code == 200 and r.json()["body"] == "Invoice sent by me"
    assert r.json()["mentions"] == []
    r = await client.delete(f"{url}/{note['id']}", headers=auth)
    assert r.status_code == 204
    assert len((await client.get(url, headers=auth)).json()) == 1
    assert (await client.delete(f"{url}/{note['id']}", headers=auth)).status_code == 404


async def test_bad_notes_are_refused(client, conn, desk):
    auth, ana = desk["auth"], desk["ana"]
    url = f"/api/v1/conversations/{ana}/notes"
    for body, status in [
        ({"body": "x" * 4001}, 422),
        ({"body": "   "}, 422),
        ({}, 422),
        ({"body": "hi", "mentions": ["00000000-0000-0000-0000-000000000001"]}, 422),
    ]:
        r = await client.post(url, json=body, headers=auth)
        assert r.status_code == status, (body, r.text)
    assert (
        await client.post("/api/v1/conversations/9999/notes", json={"body": "x"}, headers=auth)
    ).status_code == 404
    cur = await conn.execute(desk["tables"].query("SELECT count(*) AS n FROM {notes}"))
    assert (await cur.fetchone())["n"] == 0
    other = await make_agent_user(conn, "other@example.com")
    r = await client.get(
        url, params={"agent_id": desk["owner"]["agent"]["id"]}, headers=bearer(other["token"])
    )
    assert r.status_code == 404


async def test_canned_responses_and_their_variables(client, conn, desk):
    auth, ana, ben = desk["auth"], desk["ana"], desk["ben"]
    body = (
        "Thank you {{customer.name}} ({{ customer.phone }})! Order #{{order.number}} is "
        "{{order.status}}, total {{order.total}}. {{agent.name}}"
    )
    r = await client.post(
        "/api/v1/canned-responses", json={"shortcut": "/Thanks", "body": body}, headers=auth
    )
    assert r.status_code == 201, r.text
    canned = r.json()
    assert canned["shortcut"] == "thanks"
    await orders.create_order(
        conn,
        tables=desk["tables"],
        customer_id=ana,
        items=[{"name": "Shoe", "quantity": 2, "price": Decimal("12.5")}],
        currency="EUR",
    )
    r = await client.get(
        f"/api/v1/canned-responses/{canned['id']}/render",
        params={"customer_id": ana},
        headers=desk["mia"],
    )
    text = r.json()["text"]
    assert r.status_code == 200, r.text
    assert text.startswith("Thank you Ana Lima (+4915100000001)! Order #")
    assert "is pending, total 25.00 EUR. Mia Rossi" in text
    r = await client.get(
        f"/api/v1/canned-responses/{canned['id']}/render", params={"customer_id": ben}, headers=auth
    )
    assert r.json()["text"] == "Thank you Ben (+4915100000002)! Order # is , total . owner"
    for bad, status in [
        ({"shortcut": "thanks", "body": "again"}, 409),
        ({"shortcut": "bad shortcut", "body": "x"}, 422),
        ({"shortcut": "x", "body": "Hi {{customer.email}}"}, 422),
        ({"shortcut": "x", "body": ""}, 422),
        ({"shortcut": "x", "body": "y" * 4097}, 422),
    ]:
        r = await client.post("/api/v1/canned-responses", json=bad, headers=auth)
        assert r.status_code == status, (bad, r.text)
    await client.post(
        "/api/v1/canned-responses", json={"shortcut": "hours", "body": "We open at 9"}, headers=auth
    )
    listed = (await client.get("/api/v1/canned-responses", params={"q": "th"}, headers=auth)).json()
    assert [c["shortcut"] for c in listed] == ["thanks"]
    listed = (
        await client.get("/api/v1/canned-responses", params={"q": "open at"}, headers=auth)
    ).json()
    assert [c["shortcut"] for c in listed] == ["hours"]
    r = await client.patch(
        f"/api/v1/canned-responses/{canned['id']}",
        json={"body": "Bye {{agent.name}}"},
        headers=auth,
    )
    assert r.status_code == 200 and r.json()["body"] == "Bye {{agent.name}}"
    r = await client.patch(
        f"/api/v1/canned-responses/{canned['id']}", json={"shortcut": "hours"}, headers=auth
    )
    assert r.status_code == 409
    assert (
        await client.delete(f"/api/v1/canned-responses/{canned['id']}", headers=auth)
    ).status_code == 204
    assert (
        await client.get(f"/api/v1/canned-responses/{canned['id']}", headers=auth)
    ).status_code == 404
    other = await make_agent_user(conn, "other@example.com")
    r = await client.get("/api/v1/canned-responses", headers=bearer(other["token"]))
    assert [c["shortcut"] for c in r.json()] == []
