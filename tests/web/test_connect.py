"""The "Connect a WhatsApp number" page end to end: save, checks (subscribing the app), test message."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.sandbox_fixture import Sandbox
from tests.web.conftest import user_with_password
from tests.web.test_admin_pages import _admin, admin_sign_in
from wacrm.numbers import service as numbers


@pytest.fixture
def graph(sandbox: Sandbox, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """The app's Graph API is the sandbox."""
    monkeypatch.setattr(settings, "whatsapp_api_base_url", sandbox.base_url)
    yield sandbox


def statuses(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-check="([a-z_]+)" data-status="([a-z]+)"', html))


async def test_connect_a_number_from_the_guide_to_a_test_message(client, conn, graph):
    await _admin(client, conn)
    ann = await user_with_password(conn, "ann@example.com")
    number = graph.register_number()
    page = await client.get("/admin/connect")
    assert page.status_code == 200
    for words in ("Phone number ID", "System users", "App secret", "messages", "7. Checks"):
        assert words in page.text, words
    generated = re.search(r'id="verify-token">([^<]+)<', page.text).group(1)
    assert len(generated) >= 24
    # WACRM_PUBLIC_URL of the tests is http://testserver: the page warns before Meta refuses it
    assert "callback-warning" in page.text and "not https" in page.text
    csrf = await admin_sign_in(client)
    bad = await client.post(
        "/admin/connect",
        data={
            "csrf_token": csrf,
            "user_id": str(ann["user"]["id"]),
            "whatsapp_number": "+15550001111",
            "phone_number_id": "not-a-number",
            "verify_token": generated,
        },
    )
    assert bad.status_code == 400
    field = re.search(
        r'name="phone_number_id"[^>]*>\s*<span class="error field-error">([^<]+)', bad.text
    )
    assert field and "numeric id" in field.group(1)
    assert 'value="+15550001111"' in bad.text  # nothing typed is lost
    saved = await client.post(
        "/admin/connect",
        data={
            "csrf_token": csrf,
            "user_id": str(ann["user"]["id"]),
            "whatsapp_number": "+" + number["display_phone_number"],
            "phone_number_id": number["phone_number_id"],
            "business_account_id": number["waba_id"],
            "access_token": number["access_token"],
            "app_secret": number["app_secret"],
            "verify_token": generated,
        },
    )
    assert saved.status_code == 303
    config = await numbers.get_by_user_id(conn, user_id=ann["user"]["id"])
    assert config["verify_token"] == generated and config["access_token"] == number["access_token"]
    assert saved.headers["location"] == f"/admin/connect?config={config['id']}&saved=true"
    shown = await client.get(saved.headers["location"])
    assert generated in shown.text and "Saved." in shown.text
    assert graph.state.subscribed_apps == {}  # a GET changes nothing

    checked = await client.post(f"/admin/connect/{config['id']}/checks", data={"csrf_token": csrf})
    assert checked.status_code == 200
    assert statuses(checked.text) == {
        "token": "ok",
        "registration": "ok",
        "quality": "ok",
        "subscription": "ok",
        "callback": "problem",
    }
    assert "subscribed the app iDesign CRM just now" in checked.text
    assert number["waba_id"] in graph.state.subscribed_apps

    wrong = await client.post(
        f"/admin/connect/{config['id']}/test-message", data={"csrf_token": csrf, "to": "12"}
    )
    assert wrong.status_code == 400 and "international form" in wrong.text
    sent = await client.post(
        f"/admin/connect/{config['id']}/test-message",
        data={"csrf_token": csrf, "to": "+49 151 1111 2222"},
    )
    assert sent.status_code == 200 and "Meta accepted the message to +4915111112222" in sent.text
    assert graph.sent_messages()["messages"][-1]["request"]["template"]["name"] == "hello_world"


async def test_api_checks_and_a_broken_number(client, conn, graph):
    from tests.helpers import WEBHOOK_URL, bearer
    from wacrm.accounts.tokens import create_token

    root, _ = await _admin(client, conn)
    token = await create_token(conn, user_id=root["user"]["id"], name="ops")
    ann = await user_with_password(conn, "ann@example.com")
    number = graph.register_number(registered=False, quality_rating="YELLOW")
    config = await numbers.configure(
        conn,
        webhook_url=WEBHOOK_URL,
        user_id=ann["user"]["id"],
        whatsapp_number="+" + number["display_phone_number"],
        phone_number_id=number["phone_number_id"],
        business_account_id=number["waba_id"],
        access_token=number["access_token"],
        app_secret=number["app_secret"],
        verify_token="vt-0123456789",
    )
    client.cookies.clear()
    answer = await client.post(
        f"/api/v1/whatsapp/configurations/{config['id']}/checks?subscribe=false",
        headers=bearer(token),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    found = {c["key"]: c["status"] for c in body["checks"]}
    assert body["status"] == "problem"
    assert found["registration"] == "problem" and found["quality"] == "warning"
    assert found["subscription"] == "problem" and graph.state.subscribed_apps == {}
    missing = await client.post(
        "/api/v1/whatsapp/configurations/999999/checks", headers=bearer(token)
    )
    assert missing.status_code == 404


async def test_agents_do_not_see_the_connect_page(client, conn):
    from tests.web.conftest import sign_in

    await user_with_password(conn, "ann@example.com")
    csrf = await sign_in(client, "ann@example.com")
    assert (await client.get("/admin/connect")).status_code == 404
    assert (
        await client.post("/admin/connect/1/checks", data={"csrf_token": csrf})
    ).status_code == 404
