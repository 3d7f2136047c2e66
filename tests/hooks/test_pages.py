"""The admin pages of outgoing webhooks: add (secret shown once), errors next to their field,
edit, delivery log with replay; agents get 404."""

from __future__ import annotations

import re
from typing import Any

from tests.web.conftest import sign_in, user_with_password
from tests.web.test_admin_pages import admin_sign_in


async def test_endpoint_pages(client: Any, conn: Any) -> None:
    await user_with_password(conn, "root@example.com", role="admin", agent=False)
    ann = await user_with_password(conn, "ann@example.com")
    csrf = await admin_sign_in(client)
    page = await client.get("/admin/integrations")
    assert page.status_code == 200 and "No outgoing webhooks yet." in page.text
    bad = await client.post(
        "/admin/integrations",
        data={
            "csrf_token": csrf,
            "agent_id": ann["agent"]["id"],
            "url": "http://erp.example.com/x",
            "events": ["order.created"],
        },
    )
    assert bad.status_code == 422
    assert re.search(
        r'aria-invalid="true"[^>]*>\s*<span class="error field-error">endpoints must use https://',
        bad.text,
    )
    assert 'value="http://erp.example.com/x"' in bad.text  # what was typed is kept
    made = await client.post(
        "/admin/integrations",
        data={
            "csrf_token": csrf,
            "agent_id": ann["agent"]["id"],
            "url": "https://erp.example.com/x",
            "events": ["order.created", "customer.created"],
        },
    )
    assert made.status_code == 201
    secret = re.search(r'id="endpoint-secret">(whsec_[^<]+)<', made.text)
    assert secret
    again = await client.get("/admin/integrations")
    assert secret.group(1) not in again.text and "https://erp.example.com/x" in again.text
    cur = await conn.execute("SELECT id, events FROM hook_endpoints")
    row = await cur.fetchone()
    assert row["events"] == ["customer.created", "order.created"]
    saved = await client.post(
        f"/admin/integrations/{row['id']}",
        data={"csrf_token": csrf, "url": "https://erp.example.com/y", "events": ["order.created"]},
    )
    assert saved.status_code == 303
    cur = await conn.execute("SELECT url, enabled, disabled_reason FROM hook_endpoints")
    assert await cur.fetchone() == {
        "url": "https://erp.example.com/y",
        "enabled": False,
        "disabled_reason": "disabled by an administrator",
    }
    await conn.execute(
        ann["tables"].query("INSERT INTO {customers} (name, phone) VALUES ('A', '+4915100000001')")
    )
    await client.post(
        f"/admin/integrations/{row['id']}",
        data={
            "csrf_token": csrf,
            "url": "https://erp.example.com/y",
            "events": ["customer.created"],
            "enabled": "true",
        },
    )
    await conn.execute(
        ann["tables"].query("INSERT INTO {customers} (name, phone) VALUES ('B', '+4915100000002')")
    )
    log = await client.get(f"/admin/integrations/{row['id']}")
    assert log.status_code == 200 and log.text.count("customer.created") == 1
    delivery = re.search(r'data-delivery-id="(\d+)"', log.text)
    assert delivery
    replayed = await client.post(
        f"/admin/integrations/deliveries/{delivery.group(1)}/replay", data={"csrf_token": csrf}
    )
    assert replayed.status_code == 303
    cur = await conn.execute(
        "SELECT count(*) AS n, count(DISTINCT event_id) AS events FROM hook_deliveries"
    )
    assert await cur.fetchone() == {"n": 2, "events": 1}
    gone = await client.post(f"/admin/integrations/{row['id']}/delete", data={"csrf_token": csrf})
    assert gone.status_code == 303
    assert (await client.get(f"/admin/integrations/{row['id']}")).status_code == 404


async def test_agents_do_not_see_integrations(client: Any, conn: Any) -> None:
    await user_with_password(conn, "ann@example.com")
    csrf = await sign_in(client, "ann@example.com")
    assert (await client.get("/admin/integrations")).status_code == 404
    made = await client.post(
        "/admin/integrations",
        data={
            "csrf_token": csrf,
            "agent_id": "1",
            "url": "https://x.example.com",
            "events": ["order.created"],
        },
    )
    assert made.status_code == 404
