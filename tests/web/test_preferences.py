"""Per-user language, time zone and alert preferences; the alerts JSON; the installable app."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.conversations.factory import add_customer, add_message
from tests.web.conftest import sign_in, user_with_password


async def test_language_follows_accept_language_until_the_user_chooses(client, conn):
    await user_with_password(conn, "ana@example.com")
    login = await client.get("/login", headers={"Accept-Language": "pt-BR,pt;q=0.9"})
    assert '<html lang="pt-BR">' in login.text
    csrf = await sign_in(client, "ana@example.com")
    page = await client.get("/inbox", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert '<html lang="de">' in page.text and "Posteingang" in page.text
    saved = await client.post(
        "/account/preferences",
        data={
            "csrf_token": csrf,
            "language": "pt_BR",
            "time_zone": "America/Sao_Paulo",
            "alert_sound": "true",
        },
    )
    assert saved.status_code == 303
    page = await client.get("/inbox", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert '<html lang="pt-BR">' in page.text and "Caixa de entrada" in page.text
    assert 'data-tz="America/Sao_Paulo"' in page.text and 'data-tz-chosen="true"' in page.text
    assert 'data-alert-sound="true"' in page.text and 'data-alert-desktop="false"' in page.text
    row = await (
        await conn.execute(
            "SELECT language, time_zone, alert_sound, alert_desktop FROM users WHERE email = %s",
            ("ana@example.com",),
        )
    ).fetchone()
    assert row == {
        "language": "pt_BR",
        "time_zone": "America/Sao_Paulo",
        "alert_sound": True,
        "alert_desktop": False,
    }


async def test_bad_preferences_are_refused_next_to_their_field(client, conn):
    await user_with_password(conn, "ana@example.com")
    csrf = await sign_in(client, "ana@example.com")
    bad = await client.post(
        "/account/preferences",
        data={"csrf_token": csrf, "language": "en", "time_zone": "Mars/Olympus"},
    )
    assert bad.status_code == 400
    assert 'id="time-zone-error"' in bad.text and "Mars/Olympus" in bad.text
    bad = await client.post(
        "/account/preferences", data={"csrf_token": csrf, "language": "xx", "time_zone": ""}
    )
    assert bad.status_code == 400 and 'id="language-error"' in bad.text
    unchanged = await (
        await conn.execute("SELECT language, time_zone FROM users WHERE email = 'ana@example.com'")
    ).fetchone()
    assert unchanged == {"language": None, "time_zone": None}
    no_csrf = await client.post("/account/preferences", data={"language": "de"})
    assert no_csrf.status_code == 403


async def test_times_follow_the_browser_zone_cookie_and_the_chosen_zone(client, conn):
    ana = await user_with_password(conn, "ana@example.com")
    cid = await add_customer(conn, ana["tables"], "Bia", phone="+5511900000001")
    await add_message(conn, ana["tables"], cid, "oi", at=datetime(2026, 3, 10, 9, 21, tzinfo=UTC))
    csrf = await sign_in(client, "ana@example.com")
    client.cookies.set("wacrm_tz", "America/Sao_Paulo")
    chat = await client.get(f"/chat/{cid}", headers={"Accept-Language": "pt-BR"})
    assert ">06:21</time>" in chat.text and ">09:21</time>" not in chat.text
    assert 'data-day="2026-03-10"' in chat.text
    await client.post(
        "/account/preferences",
        data={"csrf_token": csrf, "language": "de", "time_zone": "Asia/Tokyo"},
    )
    chat = await client.get(f"/chat/{cid}")
    assert ">18:21</time>" in chat.text  # the user's choice wins over the browser's zone


async def test_alerts_count_unread_conversations_and_describe_inbound_messages(client, conn):
    ana = await user_with_password(conn, "ana@example.com")
    bob = await user_with_password(conn, "bob@example.com")
    first = await add_customer(conn, ana["tables"], "Bia", phone="+5511900000001")
    second = await add_customer(conn, ana["tables"], "Caio", phone="+5511900000002")
    for n in range(3):  # ids that exist only in Bob's tables
        theirs = await add_customer(conn, bob["tables"], "Dora", phone=f"+551190000001{n}")
        other = await add_message(conn, bob["tables"], theirs, "not yours")
        other = await add_message(conn, bob["tables"], theirs, "not yours")
    inbound = await add_message(conn, ana["tables"], first, "Hello, is the blue dress in stock?")
    await add_message(conn, ana["tables"], second, "hi")
    outbound = await add_message(conn, ana["tables"], second, "yes", direction="outbound")
    for t, c in ((ana["tables"], first), (ana["tables"], second), (bob["tables"], theirs)):
        await conn.execute(t.query("UPDATE {customers} SET unread_count = 1 WHERE id = %s"), (c,))
    await sign_in(client, "ana@example.com")
    agent = ana["agent"]["id"]
    state = (await client.get(f"/alerts?agent_id={agent}")).json()
    assert state == {"unread": 2, "message": None}
    state = (
        await client.get(f"/alerts?agent_id={agent}&customer_id={first}&message_id={inbound}")
    ).json()
    assert state["message"] == {
        "id": inbound,
        "customer_id": first,
        "title": "Bia",
        "text": "Hello, is the blue dress in stock?",
        "url": f"/chat/{first}",
    }
    mine_out = await client.get(
        f"/alerts?agent_id={agent}&customer_id={second}&message_id={outbound}"
    )
    assert mine_out.json()["message"] is None  # what the agent sent does not alert
    foreign = await client.get(f"/alerts?agent_id={agent}&customer_id={theirs}&message_id={other}")
    assert foreign.json()["message"] is None  # another workspace's message is never described


async def test_manifest_and_service_worker_are_served(client):
    manifest = await client.get("/manifest.webmanifest")
    assert manifest.status_code == 200
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = json.loads(manifest.text)
    assert body["display"] == "standalone" and body["start_url"] == "/inbox"
    sizes = {icon["sizes"] for icon in body["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in body["icons"]:
        assert (await client.get(icon["src"])).status_code == 200
    worker = await client.get("/sw.js")
    assert worker.status_code == 200 and "javascript" in worker.headers["content-type"]
    assert "__VERSION__" not in worker.text and "__PRECACHE__" not in worker.text
    assert '"/static/app.js"' in worker.text
    assert '"/api/' not in worker.text  # data is never precached
    login = await client.get("/login")
    assert '<link rel="manifest" href="/manifest.webmanifest">' in login.text


async def test_dashboard_days_follow_the_viewer_zone_and_say_it(client, conn):
    import html as html_lib
    import re

    ana = await user_with_password(conn, "ana@example.com")
    cid = await add_customer(conn, ana["tables"], "Bia", phone="+5511900000001")
    # 01:30 UTC on the 11th is still the 10th in São Paulo (UTC−3)
    await add_message(conn, ana["tables"], cid, "oi", at=datetime(2026, 3, 11, 1, 30, tzinfo=UTC))
    await sign_in(client, "ana@example.com")

    def per_day(text: str) -> dict[str, int]:
        match = re.search(r"data-report='([^']+)'", text)
        assert match, "no chart data"
        chart = json.loads(html_lib.unescape(match.group(1)))
        return dict(zip(chart["days"], chart["messagesIn"], strict=True))

    query = "/dashboard?days=custom&from=2026-03-09&to=2026-03-11"
    utc = await client.get(query)
    assert per_day(utc.text)["2026-03-11"] == 1 and 'data-zone="UTC"' in utc.text
    client.cookies.set("wacrm_tz", "America/Sao_Paulo")
    local = await client.get(query)
    assert per_day(local.text) == {"2026-03-09": 0, "2026-03-10": 1, "2026-03-11": 0}
    assert 'data-zone="America/Sao_Paulo"' in local.text and "America/Sao_Paulo" in local.text


async def test_with_a_team_alerts_are_for_my_conversations_and_unassigned_ones(client, conn):
    ana = await user_with_password(conn, "ana@example.com")
    bob = await user_with_password(conn, "bob@example.com", agent=False)
    t, agent = ana["tables"], ana["agent"]["id"]
    mine = await add_customer(conn, t, "Bia", phone="+5511900000001")
    theirs = await add_customer(conn, t, "Caio", phone="+5511900000002")
    nobodys = await add_customer(conn, t, "Duda", phone="+5511900000003")
    ids = {c: await add_message(conn, t, c, "oi") for c in (mine, theirs, nobodys)}
    await conn.execute(t.query("UPDATE {customers} SET unread_count = 1"))
    await sign_in(client, "ana@example.com")

    async def state(customer_id: int) -> dict:
        url = f"/alerts?agent_id={agent}&customer_id={customer_id}&message_id={ids[customer_id]}"
        return (await client.get(url)).json()

    alone = await state(theirs)
    assert alone["unread"] == 3 and alone["message"]["title"] == "Caio"  # no team: everything
    await conn.execute(
        "INSERT INTO agent_members (agent_id, user_id) VALUES (%s, %s)", (agent, bob["user"]["id"])
    )
    await conn.execute(
        t.query("UPDATE {customers} SET assignee_id = %s WHERE id = %s"),
        (bob["user"]["id"], theirs),
    )
    await conn.execute(
        t.query("UPDATE {customers} SET assignee_id = %s WHERE id = %s"),
        (ana["user"]["id"], mine),
    )
    assert (await state(theirs)) == {"unread": 2, "message": None}  # Bob's conversation
    assert (await state(mine))["message"]["title"] == "Bia"
    assert (await state(nobodys))["message"]["title"] == "Duda"
