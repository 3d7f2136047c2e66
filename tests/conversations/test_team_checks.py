"""Team inbox cases found by the independent check of issue 16: what an owner learns when adding
a member, a snooze time given alone, assigning a deactivated member, automations in the
per-member figures, and the snooze job running in a real worker."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from psycopg.types.json import Jsonb

from tests.conversations.factory import add_customer, add_message
from tests.helpers import bearer, make_agent_user
from wacrm.accounts.service import create_user
from wacrm.members import service as members
from wacrm.worker import run_worker


async def test_adding_a_member_does_not_tell_which_accounts_exist(client, conn):
    owner = await make_agent_user(conn, "owner@example.com")
    await create_user(conn, email="gone@example.com", name="Gone", role="agent")
    await conn.execute("UPDATE users SET is_active = false WHERE email = 'gone@example.com'")
    url = f"/api/v1/agents/{owner['agent']['id']}/members"
    answers = []
    for email in ("gone@example.com", "never@example.com"):
        r = await client.post(url, json={"email": email}, headers=bearer(owner["token"]))
        answers.append((r.status_code, r.json()["detail"].replace(email, "E")))
    assert answers[0] == answers[1] and answers[0][0] == 404, answers


async def test_a_snooze_time_alone_must_change_something(client, conn):
    owner = await make_agent_user(conn, "owner@example.com")
    cid = await add_customer(conn, owner["tables"], "Ana", phone="+4915100000041")
    auth = bearer(owner["token"])
    r = await client.patch(
        f"/api/v1/conversations/{cid}", json={"snoozed_until": None}, headers=auth
    )
    assert r.status_code == 422 and r.json()["detail"].startswith("snoozed_until:")
    r = await client.patch(
        f"/api/v1/conversations/{cid}",
        json={"status": "snoozed", "snoozed_until": None},
        headers=auth,
    )
    assert r.status_code == 200 and r.json()["status"] == "snoozed"


async def test_a_deactivated_member_is_assigned_nothing(client, conn):
    owner = await make_agent_user(conn, "owner@example.com")
    mia = await create_user(conn, email="mia@example.com", name="Mia", role="agent")
    await members.add_member(conn, agent_id=owner["agent"]["id"], email="mia@example.com")
    await conn.execute("UPDATE users SET is_active = false WHERE id = %s", (mia["id"],))
    cid = await add_customer(conn, owner["tables"], "Ana", phone="+4915100000042")
    r = await client.patch(
        f"/api/v1/conversations/{cid}",
        json={"assignee_id": str(mia["id"]), "status": "pending"},
        headers=bearer(owner["token"]),
    )
    assert r.status_code == 422 and r.json()["detail"].startswith("assignee_id:")
    state = await client.get(f"/api/v1/conversations/{cid}", headers=bearer(owner["token"]))
    assert (state.json()["status"], state.json()["assignee_id"]) == ("open", None)


async def test_automations_are_no_replies_and_end_no_wait(client, conn):
    """Cleo writes; the away message answers at once; Mia broadcasts a template 2 minutes later,
    puts a 👍 on Cleo's message after 3 and replies herself after 5: one reply by Mia, 300 s to
    her first response."""
    owner = await make_agent_user(conn, "owner@example.com")
    mia = await create_user(conn, email="mia@example.com", name="Mia", role="agent")
    await members.add_member(conn, agent_id=owner["agent"]["id"], email="mia@example.com")
    tables = owner["tables"]
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    cleo = await add_customer(conn, tables, "Cleo", phone="+4915100000043")
    await add_message(conn, tables, cleo, "hello?", at=t0)
    for text, at, who, kind in (
        ("We are closed", t0 + timedelta(seconds=1), None, "away"),
        ("Sale!", t0 + timedelta(minutes=2), mia["id"], "broadcast"),
    ):
        await add_message(
            conn,
            tables,
            cleo,
            text,
            direction="outbound",
            at=at,
            sent_by=who,
            payload=Jsonb({"type": "text", "automatic": kind}),
        )
    await add_message(
        conn,
        tables,
        cleo,
        "",
        direction="outbound",
        at=t0 + timedelta(minutes=3),
        sent_by=mia["id"],
        wa_type="reaction",
        reaction="👍",
    )
    await add_message(
        conn,
        tables,
        cleo,
        "Hi Cleo",
        direction="outbound",
        at=t0 + timedelta(minutes=5),
        sent_by=mia["id"],
    )
    r = await client.get("/api/v1/reports/members", headers=bearer(owner["token"]))
    figures = {row["name"]: row for row in r.json()}["Mia"]
    assert (figures["replies"], figures["responses"]) == (1, 1)
    assert figures["median_first_response_seconds"] == 300
    chat = await client.get(
        f"/api/v1/conversations/{cleo}/messages", headers=bearer(owner["token"])
    )
    shown = {m["text"]: (m["automatic"], m["sent_by_name"]) for m in chat.json()["items"]}
    assert shown["Sale!"] == ("broadcast", "Mia") and shown["We are closed"] == ("away", None)
    assert shown["Hi Cleo"] == (None, "Mia")


async def test_a_running_worker_reopens_a_snoozed_conversation(client, conn, db_url):
    owner = await make_agent_user(conn, "owner@example.com")
    cid = await add_customer(conn, owner["tables"], "Ana", phone="+4915100000044")
    auth = bearer(owner["token"])
    until = datetime.now(UTC) + timedelta(hours=1)
    r = await client.patch(
        f"/api/v1/conversations/{cid}", json={"snoozed_until": until.isoformat()}, headers=auth
    )
    assert r.status_code == 200 and r.json()["status"] == "snoozed"
    await conn.execute(  # its time has come (as if an hour had passed)
        "UPDATE conversation_snoozes SET snoozed_until = now() - interval '1 second'"
    )
    await conn.execute(
        owner["tables"].query(
            "UPDATE {customers} SET snoozed_until = now() - interval '1 second' WHERE id = %s"
        ),
        (cid,),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(db_url, concurrency=2, stop=stop))
    try:
        deadline = time.monotonic() + 30
        status = "snoozed"
        while status != "open" and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            status = (await client.get(f"/api/v1/conversations/{cid}", headers=auth)).json()[
                "status"
            ]
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    assert status == "open"
    events = (await client.get(f"/api/v1/conversations/{cid}/events", headers=auth)).json()
    assert [(e["from"], e["to"], e["actor_id"]) for e in events][-1] == ("snoozed", "open", None)


async def test_an_assignee_filter_names_a_member(client, conn):
    owner = await make_agent_user(conn, "owner@example.com")
    stranger = await make_agent_user(conn, "stranger@example.com")
    auth = bearer(owner["token"])
    r = await client.get(
        "/api/v1/conversations", params={"assignee": str(stranger["user_id"])}, headers=auth
    )
    assert r.status_code == 400 and r.json()["detail"].startswith("assignee:")
    r = await client.get(
        "/api/v1/conversations/counts", params={"assignee": str(owner["user_id"])}, headers=auth
    )
    assert r.status_code == 200


async def test_canned_responses_refuse_what_would_be_sent_as_written(client, conn):
    owner = await make_agent_user(conn, "owner@example.com")
    auth = bearer(owner["token"])
    for body in ("Hi {{Customer.Name}}", "Hi {{customer_name}}", "Total {{ order.sum }}"):
        r = await client.post(
            "/api/v1/canned-responses", json={"shortcut": "hi", "body": body}, headers=auth
        )
        assert r.status_code == 422 and "unknown variable" in r.json()["detail"], body
    r = await client.post(
        "/api/v1/canned-responses",
        json={"shortcut": "hi", "body": "Hi {{customer.name}}"},
        headers=auth,
    )
    url = f"/api/v1/canned-responses/{r.json()['id']}"
    for patch in ({}, {"body": None}, {"shortcut": None}):
        r = await client.patch(url, json=patch, headers=auth)
        assert r.status_code == 422, (patch, r.text)
    r = await client.get(url, headers=auth)
    assert (r.json()["shortcut"], r.json()["body"]) == ("hi", "Hi {{customer.name}}")
    assert r.json()["updated_at"] == r.json()["created_at"]


async def test_editing_a_note_keeps_the_members_it_was_given(client, conn):
    owner = await make_agent_user(conn, "owner@example.com")
    mia = await create_user(conn, email="mia@example.com", name="Mia", role="agent")
    await members.add_member(conn, agent_id=owner["agent"]["id"], email="mia@example.com")
    cid = await add_customer(conn, owner["tables"], "Ana", phone="+4915100000045")
    auth, url = bearer(owner["token"]), f"/api/v1/conversations/{cid}/notes"
    r = await client.post(
        url, json={"body": "call her", "mentions": [str(mia["id"])]}, headers=auth
    )
    note = r.json()
    r = await client.patch(f"{url}/{note['id']}", json={"body": "call her today"}, headers=auth)
    assert r.status_code == 200 and r.json()["mentions"] == [str(mia["id"])]
    r = await client.patch(
        f"{url}/{note['id']}", json={"body": "done", "mentions": []}, headers=auth
    )
    assert r.json()["mentions"] == []
    r = await client.patch(f"{url}/{note['id']}", json={"body": "x" * 4001}, headers=auth)
    assert r.status_code == 422 and r.json()["detail"].startswith("body:")
