"""A conversation change made through one app instance reaches a member's stream on the other."""

from __future__ import annotations

import asyncio

import httpx

from tests.conversations.factory import add_customer, add_message, minutes
from tests.helpers import bearer, make_agent_user
from tests.realtime.test_sse import serve, sse_events
from wacrm.accounts.service import create_user
from wacrm.accounts.tokens import create_token
from wacrm.members import service as members


async def test_assignment_through_one_instance_reaches_a_member_on_the_other(
    conn, db_url, settings
):
    owner = await make_agent_user(conn, "owner@example.com")
    stranger = await make_agent_user(conn, "stranger@example.com")
    agent_id = owner["agent"]["id"]
    member = await create_user(conn, email="member@example.com", name="Mia", role="agent")
    await members.add_member(conn, agent_id=agent_id, email="member@example.com")
    member_token = await create_token(conn, user_id=member["id"], name="tests")
    cid = await add_customer(conn, owner["tables"], "Pat", phone="4917000301")
    await add_message(conn, owner["tables"], cid, "hi", at=minutes(1))
    async with (
        serve(db_url, settings) as one,
        serve(db_url, settings) as two,
        httpx.AsyncClient(timeout=10) as http,
    ):
        url = f"{two}/api/v1/events?agent_id={agent_id}"
        async with (
            http.stream("GET", url, headers=bearer(member_token)) as mine,
            http.stream("GET", f"{two}/api/v1/events", headers=bearer(stranger["token"])) as theirs,
        ):
            assert mine.status_code == 200 and theirs.status_code == 200
            member_stream, stranger_stream = sse_events(mine), sse_events(theirs)
            assert (await asyncio.wait_for(anext(member_stream), 10))[0] == "ready"
            assert (await asyncio.wait_for(anext(stranger_stream), 10))[0] == "ready"
            r = await http.patch(
                f"{one}/api/v1/conversations/{cid}",
                headers=bearer(owner["token"]),
                json={"assignee_id": str(member["id"]), "status": "pending"},
            )
            assert r.status_code == 200, r.text
            kind, data, _ = await asyncio.wait_for(anext(member_stream), 10)
            assert (kind, data["agent_id"], data["customer_id"]) == ("conversation", agent_id, cid)
            # the other workspace's stream hears nothing of it
            stranger_next = asyncio.ensure_future(anext(stranger_stream))
            done, _ = await asyncio.wait({stranger_next}, timeout=1.5)
            assert not done or stranger_next.result()[0] != "conversation"
            stranger_next.cancel()
