"""Team inbox API: status, snooze, assignment, labels, events, filters, counts, reopening."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conversations.factory import add_customer, add_message
from tests.helpers import bearer, make_admin, make_agent_user
from wacrm.accounts.service import create_user
from wacrm.accounts.tokens import create_token
from wacrm.conversations import snooze
from wacrm.members import service as members


@pytest.fixture
async def desk(conn):
    owner = await make_agent_user(conn, "owner@example.com")
    mia = await create_user(conn, email="mia@example.com", name="Mia Rossi", role="agent")
    await members.add_member(conn, agent_id=owner["agent"]["id"], email="mia@example.com")
    outsider = await make_agent_user(conn, "out@example.com")
    tables = owner["tables"]
    ids = []
    for n, name in enumerate(["Ana", "Ben", "Cleo", "Dan"]):
        cid = await add_customer(conn, tables, name, phone=f"+49151000000{n}")
        await add_message(
            conn, tables, cid, f"hi from {name}", at=datetime.now(UTC) - timedelta(minutes=10 - n)
        )
        ids.append(cid)
    return {
        "owner": owner,
        "tables": tables,
        "auth": bearer(owner["token"]),
        "mia": {
            "user_id": mia["id"],
            "token": await create_token(conn, user_id=mia["id"], name="t"),
        },
        "outsider": outsider,
        "ids": ids,
    }


async def _names(client, auth, **params) -> list[str]:
    r = await client.get("/api/v1/conversations", params=params, headers=auth)
    assert r.status_code == 200, r.text
    return [c["name"] for c in r.json()["items"]]


async def _label(client, auth, name, color="#ff0000") -> dict[str, Any]:
    r = await client.post("/api/v1/labels", json={"name": name, "color": color}, headers=auth)
    assert r.status_code == 201, r.text
    return r.json()


async def test_status_assignee_labels_filters_and_events(client, desk):
    auth, (ana, ben, cleo, _dan) = desk["auth"], desk["ids"]
    mia_id = str(desk["mia"]["user_id"])
    await _label(client, auth, "VIP", "#1F93FF")
    await _label(client, auth, "follow-up")
    assert await _names(client, auth) == ["Dan", "Cleo", "Ben", "Ana"]  # all open by default
    r = await client.patch(
        f"/api/v1/conversations/{ana}", json={"status": "resolved"}, headers=auth
    )
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    r = await client.patch(
        f"/api/v1/conversations/{ben}",
        json={"assignee_id": mia_id, "labels": ["vip", "follow-up"], "status": "pending"},
        headers=auth,
    )
    body = r.json()
    assert r.status_code == 200, r.text
    assert body["assignee_id"] == mia_id and body["assignee_name"] == "Mia Rossi"
    assert body["labels"] == ["follow-up", "vip"] and body["status"] == "pending"
    await client.patch(
        f"/api/v1/conversations/{cleo}",
        json={"assignee_id": str(desk["owner"]["user_id"]), "labels": ["vip"]},
        headers=auth,
    )
    assert await _names(client, auth) == ["Dan", "Cleo"]
    assert await _names(client, auth, status="resolved") == ["Ana"]
    assert await _names(client, auth, status="all") == ["Dan", "Cleo", "Ben", "Ana"]
    assert await _names(client, auth, status="all", assignee="me") == ["Cleo"]
    assert await _names(client, auth, status="all", assignee="none") == ["Dan", "Ana"]
    assert await _names(client, auth, status="all", assignee=mia_id) == ["Ben"]
    assert await _names(client, auth, status="pending", assignee=mia_id) == ["Ben"]
    assert await _names(client, auth, status="all", label="vip") == ["Cleo", "Ben"]
    assert await _names(client, auth, label="vip") == ["Cleo"]
    assert await _names(client, auth, status="all", label="vip", q="Ben") == ["Ben"]
    mia = bearer(desk["mia"]["token"])
    assert await _names(client, mia, status="all", assignee="me") == ["Ben"]
    # pages: the filters hold across cursors
    r = await client.get(
        "/api/v1/conversations", params={"status": "all", "limit": 2}, headers=auth
    )
    page = r.json()
    assert [c["name"] for c in page["items"]] == ["Dan", "Cleo"]
    r = await client.get(
        "/api/v1/conversations",
        params={"status": "all", "limit": 2, "cursor": page["next_cursor"]},
        headers=auth,
    )
    assert [c["name"] for c in r.json()["items"]] == ["Ben", "Ana"]
    counts = (await client.get("/api/v1/conversations/counts", headers=auth)).json()
    assert counts == {"open": 2, "pending": 1, "snoozed": 0, "resolved": 1, "all": 4}
    counts = (
        await client.get("/api/v1/conversations/counts", params={"label": "vip"}, headers=auth)
    ).json()
    assert counts["open"] == 1 and counts["pending"] == 1 and counts["all"] == 2
    one = (await client.get(f"/api/v1/conversations/{ben}", headers=auth)).json()
    assert one["status"] == "pending" and one["labels"] == ["follow-up", "vip"]
    events = (await client.get(f"/api/v1/conversations/{ben}/events", headers=auth)).json()
    assert [(e["kind"], e["from"], e["to"]) for e in events] == [
        ("status", "open", "pending"),
        ("assignee", None, mia_id),
        ("labels", "", "follow-up,vip"),
    ]
    assert events[1]["to_name"] == "Mia Rossi" and events[0]["actor_name"] == "owner"
    # an unchanged value records nothing
    await client.patch(f"/api/v1/conversations/{ben}", json={"status": "pending"}, headers=auth)
    assert len((await client.get(f"/api/v1/conversations/{ben}/events", headers=auth)).json()) == 3


async def test_bad_input_is_refused_and_nothing_is_half_written(client, conn, desk):
    auth, ana = desk["auth"], desk["ids"][0]
    await _label(client, auth, "vip")
    outsider = str(desk["outsider"]["user_id"])
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    future_naive = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    cases = [
        ({"status": "closed"}, 422),
        ({"status": None}, 422),
        ({"labels": ["vip", "nope"]}, 422),
        ({"labels": ["vip"], "assignee_id": outsider}, 422),
        ({"assignee_id": "not-a-uuid"}, 422),
        ({"status": "snoozed", "snoozed_until": past}, 422),
        ({"snoozed_until": future_naive}, 422),
        (
            {
                "status": "open",
                "snoozed_until": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
            },
            422,
        ),
        ({}, 422),
        ({"priority": "high"}, 422),
    ]
    for body, status in cases:
        r = await client.patch(f"/api/v1/conversations/{ana}", json=body, headers=auth)
        assert r.status_code == status, (body, r.text)
        assert r.json()["detail"]
    r = await client.patch(
        "/api/v1/conversations/999999", json={"status": "resolved"}, headers=auth
    )
    assert r.status_code == 404
    state = (await client.get(f"/api/v1/conversations/{ana}", headers=auth)).json()
    assert (state["status"], state["assignee_id"], state["labels"]) == ("open", None, [])
    assert (await client.get(f"/api/v1/conversations/{ana}/events", headers=auth)).json() == []
    for params in ({"status": "closed"}, {"assignee": "someone"}, {"label": "nope"}):
        r = await client.get("/api/v1/conversations", params=params, headers=auth)
        assert r.status_code == 400, params
        assert list(params)[0] in r.json()["detail"]
    for body, status in [
        ({"name": "Bad Name!", "color": "#ff0000"}, 422),
        ({"name": "ok", "color": "red"}, 422),
        ({"name": "vip", "color": "#00ff00"}, 409),
    ]:
        r = await client.post("/api/v1/labels", json=body, headers=auth)
        assert r.status_code == status, (body, r.text)


async def test_reopening_by_inbound_and_by_the_snooze_job(client, conn, desk):
    auth, tables, (ana, ben, cleo, _) = desk["auth"], desk["tables"], desk["ids"]
    await client.patch(f"/api/v1/conversations/{ana}", json={"status": "resolved"}, headers=auth)
    await client.patch(f"/api/v1/conversations/{ben}", json={"status": "snoozed"}, headers=auth)
    soon = datetime.now(UTC) + timedelta(seconds=1)
    r = await client.patch(
        f"/api/v1/conversations/{cleo}", json={"snoozed_until": soon.isoformat()}, headers=auth
    )
    assert r.json()["status"] == "snoozed"
    assert await _names(client, auth, status="snoozed") == ["Cleo", "Ben"]
    await add_message(conn, tables, ana, "are you there?")
    await add_message(conn, tables, ben, "me again")
    assert await _names(client, auth, status="snoozed") == ["Cleo"]
    assert set(await _names(client, auth)) >= {"Ana", "Ben"}
    events = (await client.get(f"/api/v1/conversations/{ana}/events", headers=auth)).json()
    assert (events[-1]["from"], events[-1]["to"], events[-1]["actor_id"]) == (
        "resolved",
        "open",
        None,
    )
    assert await snooze.wake_due(conn) == 0 or datetime.now(UTC) >= soon
    while datetime.now(UTC) < soon + timedelta(milliseconds=50):
        await asyncio.sleep(0.1)
    assert await snooze.wake_due(conn) == 1
    state = (await client.get(f"/api/v1/conversations/{cleo}", headers=auth)).json()
    assert state["status"] == "open" and state["snoozed_until"] is None
    cur = await conn.execute("SELECT count(*) AS n FROM conversation_snoozes")
    assert (await cur.fetchone())["n"] == 0
    # an outbound message does not reopen a resolved conversation
    await client.patch(f"/api/v1/conversations/{ana}", json={"status": "resolved"}, headers=auth)
    await add_message(conn, tables, ana, "bye", direction="outbound")
    assert (await client.get(f"/api/v1/conversations/{ana}", headers=auth)).json()[
        "status"
    ] == "resolved"


async def test_concurrent_assignment_ends_consistent(client, db_url, desk):
    auth, ben = desk["auth"], desk["ids"][1]
    people = [str(desk["mia"]["user_id"]), str(desk["owner"]["user_id"])]
    for _ in range(5):
        answers = await asyncio.gather(
            *(
                client.patch(
                    f"/api/v1/conversations/{ben}", json={"assignee_id": who}, headers=auth
                )
                for who in people
            )
        )
        assert all(a.status_code == 200 for a in answers)
        people.reverse()
    final = (await client.get(f"/api/v1/conversations/{ben}", headers=auth)).json()["assignee_id"]
    events = (await client.get(f"/api/v1/conversations/{ben}/events", headers=auth)).json()
    chain = [(e["from"], e["to"]) for e in events]
    assert chain and chain[-1][1] == final
    for before, after in zip(chain, chain[1:], strict=False):
        assert after[0] == before[1]  # each change starts where the previous one ended


async def test_auto_assignment_round_robin_among_available_members(client, conn, desk):
    auth, tables = desk["auth"], desk["tables"]
    agent_id = desk["owner"]["agent"]["id"]
    r = await client.put(
        f"/api/v1/agents/{agent_id}/auto-assignment", json={"enabled": True}, headers=auth
    )
    assert r.status_code == 200 and r.json() == {"enabled": True}
    mia = bearer(desk["mia"]["token"])
    r = await client.put(
        f"/api/v1/agents/{agent_id}/auto-assignment", json={"enabled": False}, headers=mia
    )
    assert r.status_code == 403
    picks = []
    for n in range(4):
        cid = await add_customer(conn, tables, f"New {n}", phone=f"+49152000000{n}")
        await add_message(conn, tables, cid, "hello")
        picks.append(
            (await client.get(f"/api/v1/conversations/{cid}", headers=auth)).json()["assignee_id"]
        )
    team = {str(desk["owner"]["user_id"]), str(desk["mia"]["user_id"])}
    assert set(picks) == team and picks[0] != picks[1] and picks[0] == picks[2]
    r = await client.put("/api/v1/me/availability", json={"available": False}, headers=mia)
    assert r.status_code == 200
    for n in range(2):
        cid = await add_customer(conn, tables, f"Later {n}", phone=f"+49153000000{n}")
        await add_message(conn, tables, cid, "hello")
        got = (await client.get(f"/api/v1/conversations/{cid}", headers=auth)).json()
        assert got["assignee_id"] == str(desk["owner"]["user_id"])
    # an existing open conversation's next message assigns nobody new
    first = desk["ids"][0]
    await add_message(conn, tables, first, "again")
    assert (await client.get(f"/api/v1/conversations/{first}", headers=auth)).json()[
        "assignee_id"
    ] is None


async def test_admin_and_member_use_agent_id(client, conn, desk):
    admin = await make_admin(conn)
    agent_id = desk["owner"]["agent"]["id"]
    r = await client.patch(
        f"/api/v1/conversations/{desk['ids'][0]}",
        params={"agent_id": agent_id},
        json={"status": "resolved"},
        headers=bearer(admin["token"]),
    )
    assert r.status_code == 200
    events = (
        await client.get(f"/api/v1/conversations/{desk['ids'][0]}/events", headers=desk["auth"])
    ).json()
    assert events[0]["actor_id"] == str(admin["user_id"])
    r = await client.patch(
        f"/api/v1/conversations/{desk['ids'][0]}",
        params={"agent_id": agent_id},
        json={"status": "open"},
        headers=bearer(desk["outsider"]["token"]),
    )
    assert r.status_code == 404
