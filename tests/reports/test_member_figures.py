"""Per-member figures: conversations resolved, median first response time, replies sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conversations.factory import add_customer, add_message
from tests.helpers import bearer, make_agent_user
from wacrm.accounts.service import create_user
from wacrm.members import service as members


async def test_member_figures_api_and_dashboard(client, conn):
    owner = await make_agent_user(conn, "owner@example.com")
    mia = await create_user(conn, email="mia@example.com", name="Mia", role="agent")
    await members.add_member(conn, agent_id=owner["agent"]["id"], email="mia@example.com")
    tables, auth = owner["tables"], bearer(owner["token"])
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    ana = await add_customer(conn, tables, "Ana", phone="+4915100000001")
    ben = await add_customer(conn, tables, "Ben", phone="+4915100000002")
    # Ana writes twice; the owner answers after 10 minutes, then again (not a first response)
    await add_message(conn, tables, ana, "hi", at=now)
    await add_message(conn, tables, ana, "hello?", at=now + timedelta(minutes=5))
    await add_message(
        conn,
        tables,
        ana,
        "yes",
        direction="outbound",
        at=now + timedelta(minutes=10),
        sent_by=owner["user_id"],
    )
    await add_message(
        conn,
        tables,
        ana,
        "and more",
        direction="outbound",
        at=now + timedelta(minutes=11),
        sent_by=owner["user_id"],
    )
    # Ben: Mia answers after 2 and after 4 minutes (two waits)
    await add_message(conn, tables, ben, "q1", at=now)
    await add_message(
        conn,
        tables,
        ben,
        "a1",
        direction="outbound",
        at=now + timedelta(minutes=2),
        sent_by=mia["id"],
    )
    await add_message(conn, tables, ben, "q2", at=now + timedelta(minutes=30))
    await add_message(
        conn,
        tables,
        ben,
        "a2",
        direction="outbound",
        at=now + timedelta(minutes=34),
        sent_by=mia["id"],
    )
    # an automation's message counts for nobody
    await add_message(
        conn, tables, ben, "auto", direction="outbound", at=now + timedelta(minutes=40)
    )
    mia_auth = {"Authorization": auth["Authorization"]}
    for cid in (ana, ben):
        r = await client.patch(
            f"/api/v1/conversations/{cid}", json={"status": "resolved"}, headers=mia_auth
        )
        assert r.status_code == 200
    r = await client.get("/api/v1/reports/members", headers=auth)
    assert r.status_code == 200, r.text
    by_name = {row["name"]: row for row in r.json()}
    assert by_name["owner"]["replies"] == 2 and by_name["owner"]["responses"] == 1
    assert by_name["owner"]["median_first_response_seconds"] == 600
    assert by_name["owner"]["resolved"] == 2  # the owner's token resolved both
    assert by_name["Mia"]["replies"] == 2 and by_name["Mia"]["median_first_response_seconds"] == 180
    assert by_name["Mia"]["resolved"] == 0
    r = await client.get(
        "/api/v1/reports/members", params={"from": "2026-02-01", "to": "2026-01-01"}, headers=auth
    )
    assert r.status_code == 400
