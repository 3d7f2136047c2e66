"""Item 13.14: the numbers page's callback URL follows WACRM_PUBLIC_URL, else the address the CRM
serves on (with a warning when it is not https); a verify token is generated when left empty;
"Needs attention" is cleared by a successful connection test."""

from __future__ import annotations

import httpx

from tests.helpers import WEBHOOK_URL
from tests.web.conftest import user_with_password
from tests.web.test_admin_pages import _admin, admin_sign_in
from wacrm.numbers import service as numbers


async def _admin_client(db_url, tmp_path, base_url, **env):
    from wacrm.app import create_app
    from wacrm.config import Settings

    settings = Settings(
        WACRM_ENV="test",
        WACRM_DATA_DIR=tmp_path / "data",
        WACRM_SECRET_KEY="test-secret-key-0123456789-abcdefghijklmnop",
        WACRM_RUN_WORKER=False,
        WACRM_DB_POOL_SIZE=2,
        **env,
    )
    app = create_app(settings, database_url=db_url)
    return app, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


async def test_callback_url_is_the_serving_address_without_public_url(db_url, conn, tmp_path):
    await user_with_password(conn, "root@example.com", role="admin", agent=False)
    app, client = await _admin_client(db_url, tmp_path, "http://127.0.0.1:8300")
    async with app.router.lifespan_context(app), client:
        await admin_sign_in(client)
        page = (await client.get("/admin/numbers")).text
        connect = (await client.get("/admin/connect")).text  # the connect-a-number page too
    assert 'id="callback-url">http://127.0.0.1:8300/webhooks/whatsapp</span>' in connect
    assert (
        '<span class="copy" id="webhook-url">http://127.0.0.1:8300/webhooks/whatsapp</span>' in page
    )
    assert "the address this page is served from" in page
    assert 'id="webhook-url-warning"' in page and "https://" in page


async def test_callback_url_follows_public_url_and_https_has_no_warning(db_url, conn, tmp_path):
    await user_with_password(conn, "root@example.com", role="admin", agent=False)
    app, client = await _admin_client(
        db_url, tmp_path, "https://10.0.0.5:8300", WACRM_PUBLIC_URL="https://crm.example.com/"
    )  # (secure cookies: the client talks https)
    async with app.router.lifespan_context(app), client:
        await admin_sign_in(client)
        page = (await client.get("/admin/numbers")).text
    assert 'id="webhook-url">https://crm.example.com/webhooks/whatsapp</span>' in page
    assert "(from WACRM_PUBLIC_URL)" in page and 'id="webhook-url-warning"' not in page


async def test_a_number_saved_without_verify_token_gets_one(client, conn):
    _, csrf = await _admin(client, conn)
    ann = await user_with_password(conn, "ann@example.com")
    data = {
        "csrf_token": csrf,
        "user_id": str(ann["user"]["id"]),
        "whatsapp_number": "+15550009999",
        "phone_number_id": "106540352249911",
        "verify_token": "",
        "is_active": "true",
    }
    assert (await client.post("/admin/numbers", data=data)).status_code == 303
    full = await numbers.get_by_user_id(conn, user_id=ann["user"]["id"])
    token = full["verify_token"]
    assert token and len(token) >= 24
    page = (await client.get("/admin/numbers")).text
    assert f'<span class="copy verify-token">{token}</span>' in page
    # saving again with the field empty keeps it; a typed one replaces it
    await client.post("/admin/numbers", data=data)
    assert (await numbers.get_by_user_id(conn, user_id=ann["user"]["id"]))["verify_token"] == token
    await client.post("/admin/numbers", data={**data, "verify_token": "mine-123"})
    assert (await numbers.get_by_user_id(conn, user_id=ann["user"]["id"]))["verify_token"] == (
        "mine-123"
    )
    other = await user_with_password(conn, "bob@example.com")
    made = await numbers.configure(
        conn, webhook_url=WEBHOOK_URL, user_id=other["user"]["id"], whatsapp_number="+1555"
    )
    assert made["id"]
    assert (await numbers.get_by_user_id(conn, user_id=other["user"]["id"]))["verify_token"]


async def test_successful_connection_test_clears_needs_attention(
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
    await conn.execute(
        "UPDATE whatsapp_configuration SET needs_attention = 'the access token expired'"
        " WHERE id = %s",
        (config["id"],),
    )
    csrf = await admin_sign_in(client)
    before = (await client.get("/admin/numbers")).text
    assert "Needs attention: the access token expired" in before
    ok = await client.post(f"/admin/numbers/{config['id']}/test", data={"csrf_token": csrf})
    assert ok.status_code == 200 and "“Needs attention” is cleared" in ok.text
    assert "Needs attention:" not in ok.text
    after = (await client.get("/admin/numbers")).text
    assert "Needs attention:" not in after
    cur = await conn.execute(
        "SELECT needs_attention FROM whatsapp_configuration WHERE id = %s", (config["id"],)
    )
    assert (await cur.fetchone())["needs_attention"] is None


async def test_number_form_errors_are_shown_in_the_form_with_what_was_typed(client, conn):
    _, csrf = await _admin(client, conn)
    ann = await user_with_password(conn, "ann@example.com")
    data = {
        "csrf_token": csrf,
        "user_id": str(ann["user"]["id"]),
        "whatsapp_number": "+15550001234",
        "phone_number_id": "not-a-number",
        "business_account_id": "102290129340398",
        "verify_token": "typed-token",
    }
    bad = await client.post("/admin/numbers", data=data)
    assert bad.status_code == 400
    html = bad.text
    form = html[html.index('<section class="card" aria-labelledby="new-number-h">') :]
    assert 'class="error form-error full" role="alert"' in form and "numeric id" in form
    assert 'value="not-a-number"' in form and 'value="typed-token"' in form
    assert f'<option value="{ann["user"]["id"]}" selected>' in form
    await client.post("/admin/numbers", data={**data, "phone_number_id": "106540352249912"})
    rate = await client.post(
        "/admin/numbers",
        data={**data, "phone_number_id": "106540352249912", "messages_per_second": "fast"},
    )
    assert rate.status_code == 400
    html = rate.text
    edit = html[html.index('class="card config"') :]
    assert "<details open>" in edit and "whole number" in edit and 'value="fast"' in edit
