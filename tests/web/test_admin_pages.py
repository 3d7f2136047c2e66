"""Server-side tests of the admin pages: admins only, users, agents, WhatsApp numbers, webhook journal."""

from __future__ import annotations

import re

import orjson

from tests.conversations.factory import add_customer, add_message
from tests.helpers import WEBHOOK_URL
from tests.web.conftest import PASSWORD, csrf_of, post_login, sign_in, user_with_password
from wacrm.accounts import service as accounts
from wacrm.agents import service as agents
from wacrm.numbers import service as numbers
from wacrm.reports import recent

PAGES = ("/admin", "/admin/users", "/admin/agents", "/admin/numbers", "/admin/webhooks")


async def admin_sign_in(client) -> str:
    """Sign in as root (who may have no workspace yet); the CSRF token from a page without one."""
    response = await post_login(client, {"email": "root@example.com", "password": PASSWORD})
    assert response.status_code == 303
    return csrf_of((await client.get("/account/password")).text)


async def _admin(client, conn):
    root = await user_with_password(conn, "root@example.com", role="admin", agent=False)
    return root, await admin_sign_in(client)


async def test_agents_get_404_on_every_admin_page_and_action(client, conn):
    ann = await user_with_password(conn, "ann@example.com")
    csrf = await sign_in(client, "ann@example.com")
    for path in PAGES:
        assert (await client.get(path)).status_code == 404, path
    made = await client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "email": "x@example.com",
            "name": "X",
            "role": "admin",
            "password": PASSWORD,
        },
    )
    assert made.status_code == 404
    assert (
        await client.post(
            f"/admin/agents/{ann['agent']['id']}/active",
            data={"csrf_token": csrf, "active": "false"},
        )
    ).status_code == 404
    assert [u["email"] for u in await accounts.list_users(conn)] == ["ann@example.com"]
    assert (await agents.get_agent(conn, agent_id=ann["agent"]["id"]))["is_active"]
    page = await client.get("/inbox")
    assert 'href="/admin"' not in page.text


async def test_users_create_edit_deactivate_and_reset_password(client, conn):
    await _admin(client, conn)
    for path in PAGES:
        assert (await client.get(path, follow_redirects=True)).status_code == 200, path
    csrf = await admin_sign_in(client)
    made = await client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "email": "Cleo@Example.com",
            "name": "Cleo",
            "role": "agent",
            "password": PASSWORD,
            "with_agent": "true",
        },
    )
    assert made.status_code == 303
    cleo = await accounts.get_user_by_email(conn, email="cleo@example.com")
    assert any(
        a["user_id"] == cleo["id"] for a in await agents.list_agents(conn, with_counts=False)
    )
    twice = await client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "email": "cleo@example.com",
            "name": "Cleo",
            "role": "agent",
            "password": PASSWORD,
        },
    )
    assert twice.status_code == 409 and "already exists" in twice.text
    weak = await client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "email": "dan@example.com",
            "name": "Dan",
            "role": "agent",
            "password": "short",
        },
    )
    assert weak.status_code == 400
    bad_role = await client.post(
        f"/admin/users/{cleo['id']}", data={"csrf_token": csrf, "name": "C", "role": "owner"}
    )
    assert bad_role.status_code == 400 and "unknown role" in bad_role.text
    await client.post(
        f"/admin/users/{cleo['id']}", data={"csrf_token": csrf, "name": "Cleo B", "role": "admin"}
    )
    cleo = await accounts.get_user(conn, user_id=cleo["id"])
    assert (cleo["name"], cleo["role"]) == ("Cleo B", "admin")
    reset = await client.post(
        f"/admin/users/{cleo['id']}/password",
        data={"csrf_token": csrf, "password": "another long password 42"},
    )
    assert reset.status_code == 303
    assert (
        await post_login(
            client, {"email": "cleo@example.com", "password": "another long password 42"}
        )
    ).status_code == 303
    csrf = await admin_sign_in(client)
    await client.post(
        f"/admin/users/{cleo['id']}/active", data={"csrf_token": csrf, "active": "false"}
    )
    assert not (await accounts.get_user(conn, user_id=cleo["id"]))["is_active"]
    root = await accounts.get_user_by_email(conn, email="root@example.com")
    self_off = await client.post(
        f"/admin/users/{root['id']}/active", data={"csrf_token": csrf, "active": "false"}
    )
    assert self_off.status_code == 400
    assert (
        await client.post(
            "/admin/users/not-a-uuid/active", data={"csrf_token": csrf, "active": "false"}
        )
    ).status_code == 422


async def test_agents_create_link_counts_and_deactivate(client, conn):
    await _admin(client, conn)
    ann = await user_with_password(conn, "ann@example.com", agent=False)
    bea = await user_with_password(conn, "bea@example.com")
    cid = await add_customer(conn, bea["tables"], "Greta", phone="+4915100000001")
    await add_message(conn, bea["tables"], cid, "hi")
    await add_message(conn, bea["tables"], cid, "hello", direction="outbound")
    csrf = await admin_sign_in(client)
    made = await client.post(
        "/admin/agents", data={"csrf_token": csrf, "user_id": str(ann["user"]["id"])}
    )
    assert made.status_code == 303
    listed = await agents.list_agents(conn, with_counts=False)
    new = next(a for a in listed if a["user_id"] == ann["user"]["id"])
    page = await client.get("/admin/agents")
    row = page.text[page.text.index(f'data-agent-id="{bea["agent"]["id"]}"') :]
    # customers counted at once; messages and orders once the dashboard's job has counted
    assert re.findall(r'<td class="num">([^<]+)</td>', row)[:3] == ["1", "–", "–"]
    await recent.run_cycle(conn, every=True)
    page = await client.get("/admin/agents")
    row = page.text[page.text.index(f'data-agent-id="{bea["agent"]["id"]}"') :]
    assert re.findall(r'<td class="num">([^<]+)</td>', row)[:3] == ["1", "2", "0"]
    taken = await client.post(
        f"/admin/agents/{new['id']}/link",
        data={"csrf_token": csrf, "user_id": str(bea["user"]["id"])},
    )
    assert taken.status_code == 409 and "already linked" in taken.text
    await client.post(f"/admin/agents/{new['id']}/link", data={"csrf_token": csrf, "user_id": ""})
    assert (await agents.get_agent(conn, agent_id=new["id"]))["user_id"] is None
    await client.post(
        f"/admin/agents/{new['id']}/active", data={"csrf_token": csrf, "active": "false"}
    )
    assert not (await agents.get_agent(conn, agent_id=new["id"]))["is_active"]
    assert (
        await client.post(
            "/admin/agents/999999/active", data={"csrf_token": csrf, "active": "false"}
        )
    ).status_code == 404


async def test_numbers_show_webhook_url_token_masked_secrets_and_warnings(client, conn, sandbox):
    await _admin(client, conn)
    ann = await user_with_password(conn, "ann@example.com")
    csrf = await admin_sign_in(client)
    number = sandbox.register_number(webhook_url="http://127.0.0.1:9/webhooks/whatsapp")
    data = {
        "csrf_token": csrf,
        "user_id": str(ann["user"]["id"]),
        "whatsapp_number": number["display_phone_number"],
        "phone_number_id": number["phone_number_id"],
        "business_account_id": number["waba_id"],
        "access_token": number["access_token"],
        "app_secret": "app-secret-abcdefgh",
        "verify_token": "paste-me-into-meta",
        "is_active": "true",
    }
    saved = await client.post("/admin/numbers", data=data)
    assert saved.status_code == 303
    page = await client.get("/admin/numbers")
    assert "http://testserver/webhooks/whatsapp" in page.text
    assert "paste-me-into-meta" in page.text
    assert number["access_token"] not in page.text and "app-secret-abcdefgh" not in page.text
    assert "…efgh" in page.text
    assert "No webhook has arrived" in page.text
    config = (await numbers.list_configurations(conn))[0]
    await conn.execute(
        "UPDATE whatsapp_configuration SET last_webhook_at = now(),"
        " needs_attention = 'the access token expired' WHERE id = %s",
        (config["id"],),
    )
    page = await client.get("/admin/numbers")
    assert "No webhook has arrived" not in page.text and "Last webhook received" in page.text
    assert 'class="attention"' in page.text and "the access token expired" in page.text
    bad = await client.post("/admin/numbers", data={**data, "phone_number_id": "abc"})
    assert bad.status_code == 400 and "numeric id" in bad.text
    rate = await client.post("/admin/numbers", data={**data, "messages_per_second": "fast"})
    assert rate.status_code == 400
    # editing with empty secret fields keeps the stored secrets
    await client.post("/admin/numbers", data={**data, "access_token": "", "app_secret": ""})
    full = await numbers.get_by_user_id(conn, user_id=ann["user"]["id"])
    assert (
        full["access_token"] == number["access_token"]
        and full["app_secret"] == "app-secret-abcdefgh"
    )


async def test_test_connection_calls_the_phone_number_endpoint(
    client, conn, sandbox, settings, monkeypatch
):
    monkeypatch.setattr(settings, "whatsapp_api_base_url", sandbox.base_url)
    await _admin(client, conn)
    ann = await user_with_password(conn, "ann@example.com")
    number = sandbox.register_number(webhook_url="http://127.0.0.1:9/webhooks/whatsapp")
    config = await numbers.configure(
        conn,
        webhook_url=WEBHOOK_URL,
        user_id=ann["user"]["id"],
        whatsapp_number=number["display_phone_number"],
        phone_number_id=number["phone_number_id"],
        access_token=number["access_token"],
    )
    csrf = await admin_sign_in(client)
    ok = await client.post(f"/admin/numbers/{config['id']}/test", data={"csrf_token": csrf})
    assert ok.status_code == 200 and "Meta answered" in ok.text
    assert number["phone_number_id"] in ok.text
    await numbers.configure(
        conn,
        webhook_url=WEBHOOK_URL,
        user_id=ann["user"]["id"],
        access_token="wrong-token-123456",
    )
    bad = await client.post(f"/admin/numbers/{config['id']}/test", data={"csrf_token": csrf})
    assert bad.status_code == 502 and "The test failed" in bad.text
    assert (
        await client.post("/admin/numbers/99999/test", data={"csrf_token": csrf})
    ).status_code == 404


async def test_failed_webhook_is_listed_and_replayed(client, conn):
    await _admin(client, conn)
    body = orjson.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "1",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "1",
                                    "phone_number_id": "555000111",
                                },
                                "statuses": [],
                            },
                        }
                    ],
                }
            ],
        }
    )
    cur = await conn.execute(
        "INSERT INTO webhook_journal (phone_number_id, body, status, error, attempts)"
        " VALUES ('555000111', %s, 'failed', 'boom <b>', 1) RETURNING id",
        (body,),
    )
    jid = (await cur.fetchone())["id"]
    bad = await conn.execute(
        "INSERT INTO webhook_journal (phone_number_id, body, status, error, attempts)"
        " VALUES (NULL, %s, 'failed', 'not json', 1) RETURNING id",
        (b"<html>",),
    )
    bad_id = (await bad.fetchone())["id"]
    csrf = await admin_sign_in(client)
    page = await client.get("/admin/webhooks")
    assert f'data-journal-id="{jid}"' in page.text and "boom &lt;b&gt;" in page.text
    assert "&#34;phone_number_id&#34;: &#34;555000111&#34;" in page.text or "555000111" in page.text
    still = await client.post(f"/admin/webhooks/{bad_id}/replay", data={"csrf_token": csrf})
    assert still.status_code == 409 and "still fails" in still.text
    unrouted = await client.post(f"/admin/webhooks/{jid}/replay", data={"csrf_token": csrf})
    assert unrouted.status_code == 409  # no number 555000111 is configured yet
    ann = await user_with_password(conn, "ann@example.com")
    await numbers.configure(
        conn,
        webhook_url=WEBHOOK_URL,
        user_id=ann["user"]["id"],
        whatsapp_number="+1 555",
        phone_number_id="555000111",
        access_token="token-123456789",
    )
    done = await client.post(f"/admin/webhooks/{jid}/replay", data={"csrf_token": csrf})
    assert done.status_code == 303, done.text
    cur = await conn.execute("SELECT status, attempts FROM webhook_journal WHERE id = %s", (jid,))
    assert await cur.fetchone() == {"status": "processed", "attempts": 3}
    after = await client.get("/admin/webhooks")
    assert f'data-journal-id="{jid}"' not in after.text
    assert (
        await client.post("/admin/webhooks/999999/replay", data={"csrf_token": csrf})
    ).status_code == 404
