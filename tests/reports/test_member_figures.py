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


async def test_member_figures_count_the_days_of_the_viewers_time_zone(client, conn):
    owner = await make_agent_user(conn, "owner@example.com")
    tables, auth = owner["tables"], bearer(owner["token"])
    ana = await add_customer(conn, tables, "Ana", phone="+4915100000001")
    late = datetime(2026, 1, 10, 23, 30, tzinfo=UTC)  # 11 January in Tokyo (UTC+9)
    await add_message(conn, tables, ana, "hi", at=late - timedelta(minutes=5))
    await add_message(
        conn, tables, ana, "yes", direction="outbound", at=late, sent_by=owner["user_id"]
    )

    async def replies(**params: str) -> int:
        r = await client.get(
            "/api/v1/reports/members", params={"from": "2026-01-10", **params}, headers=auth
        )
        assert r.status_code == 200, r.text
        return next(row["replies"] for row in r.json() if row["name"] == "owner")

    assert await replies(to="2026-01-10") == 1  # UTC days while the user has no time zone
    assert await replies(to="2026-01-10", tz="America/Sao_Paulo") == 1
    assert await replies(to="2026-01-10", tz="Asia/Tokyo") == 0
    assert await replies(to="2026-01-11", tz="Asia/Tokyo") == 1
    await conn.execute(
        "UPDATE users SET time_zone = 'Asia/Tokyo' WHERE id = %s", (owner["user_id"],)
    )
    assert await replies(to="2026-01-10") == 0  # the user's own time zone
    r = await client.get("/api/v1/reports/members", params={"tz": "Mars/Olympus"}, headers=auth)
    assert r.status_code == 400 and "tz" in r.json()["detail"]
