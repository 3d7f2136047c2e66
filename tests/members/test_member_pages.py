"""Members in the web app: the Team page (owner/admin manage, members see), the workspace
switch of a user in several workspaces, and 404 for a workspace one does not work in."""

from __future__ import annotations

from tests.conversations.factory import add_customer, add_message
from tests.web.conftest import csrf_of, sign_in, user_with_password
from wacrm.members import service as members


async def test_team_page_and_workspace_switch(client, conn):
    ann = await user_with_password(conn, "ann@example.com")
    bea = await user_with_password(conn, "bea@example.com")
    await user_with_password(conn, "mia@example.com", agent=False)
    ca = await add_customer(conn, ann["tables"], "Ann's customer", phone="+4915100000011")
    cb = await add_customer(conn, bea["tables"], "Bea's customer", phone="+4915100000012")
    await add_message(conn, ann["tables"], ca, "hello ann")
    await add_message(conn, bea["tables"], cb, "hello bea")
    csrf = await sign_in(client, "ann@example.com")
    page = await client.get("/team")
    assert page.status_code == 200 and "Add member" in page.text
    bad = await client.post(
        "/team/members", data={"csrf_token": csrf, "email": "nobody@example.com"}
    )
    assert bad.status_code == 404 and 'id="member-email-error"' in bad.text
    added = await client.post(
        "/team/members", data={"csrf_token": csrf, "email": "mia@example.com"}
    )
    assert added.status_code == 303
    bad = await client.post(
        "/team/labels", data={"csrf_token": csrf, "name": "no good!", "color": "#ff0000"}
    )
    assert bad.status_code == 422 and 'id="label-name-error"' in bad.text
    assert (
        await client.post(
            "/team/labels", data={"csrf_token": csrf, "name": "vip", "color": "#FF0000"}
        )
    ).status_code == 303
    assert "vip" in (await client.get("/team")).text

    client.cookies.clear()
    csrf = await sign_in(client, "mia@example.com")
    page = await client.get("/inbox")
    assert "Ann&#39;s customer" in page.text and "Bea&#39;s customer" not in page.text
    assert 'id="workspace-agent"' not in page.text  # one workspace: no switch
    team = await client.get("/team")
    assert "Add member" not in team.text  # a member sees the team, the owner manages it
    refused = await client.post(
        "/team/members", data={"csrf_token": csrf, "email": "bea@example.com"}
    )
    assert refused.status_code == 403
    assert (await client.get(f"/chat/{ca}")).status_code == 200
    # Bea's workspace does not exist for Mia
    assert (
        await client.post("/workspace", data={"csrf_token": csrf, "agent_id": bea["agent"]["id"]})
    ).status_code == 404
    await members.add_member(conn, agent_id=bea["agent"]["id"], email="mia@example.com")
    page = await client.get("/inbox")
    assert 'id="workspace-agent"' in page.text  # two workspaces: the switch lists them
    switched = await client.post(
        "/workspace", data={"csrf_token": csrf_of(page.text), "agent_id": bea["agent"]["id"]}
    )
    assert switched.status_code == 303
    page = await client.get("/inbox")
    assert "Bea&#39;s customer" in page.text and "Ann&#39;s customer" not in page.text
    await members.remove_member(
        conn, agent_id=bea["agent"]["id"], user_id=(await _id(conn, "mia@example.com"))
    )
    page = await client.get("/inbox")  # the stale choice is ignored: back to Ann's workspace
    assert "Ann&#39;s customer" in page.text and "Bea&#39;s customer" not in page.text


async def _id(conn, email):
    cur = await conn.execute("SELECT id FROM users WHERE email = %s", (email,))
    return (await cur.fetchone())["id"]


async def test_snooze_from_the_chat_in_the_viewers_time_zone(client, conn):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    ann = await user_with_password(conn, "ann@example.com")
    cid = await add_customer(conn, ann["tables"], "Carla", phone="+4915100000021")
    await add_message(conn, ann["tables"], cid, "hi")
    csrf = await sign_in(client, "ann@example.com")
    client.cookies.set("wacrm_tz", "America/Sao_Paulo")
    zone = ZoneInfo("America/Sao_Paulo")
    past = (datetime.now(zone) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    r = await client.post(
        f"/chat/{cid}/state", data={"csrf_token": csrf, "status": "snoozed", "snoozed_until": past}
    )
    assert r.status_code == 422 and 'id="bar-error"' in r.text and "future" in r.text
    assert 'aria-invalid="true"' in r.text
    later = (datetime.now(zone) + timedelta(days=1)).replace(second=0, microsecond=0)
    r = await client.post(
        f"/chat/{cid}/state",
        data={
            "csrf_token": csrf,
            "status": "snoozed",
            "snoozed_until": later.strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert r.status_code == 200 and 'data-status="snoozed"' in r.text
    cur = await conn.execute(
        ann["tables"].query("SELECT snoozed_until FROM {customers} WHERE id = %s"), (cid,)
    )
    assert (await cur.fetchone())["snoozed_until"] == later  # the instant typed in São Paulo
    assert later.strftime("%Y-%m-%dT%H:%M") in r.text  # shown back in the viewer's zone
    r = await client.post(
        f"/chat/{cid}/state", data={"csrf_token": csrf, "assignee_id": "nonsense"}
    )
    assert r.status_code == 422 and "member" in r.text
