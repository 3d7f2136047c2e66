"""The connect page's checks against the sandbox over real HTTP: each outcome Meta can give."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.sandbox_fixture import DEFAULT_NUMBER, Sandbox
from wacrm.numbers import checks
from wacrm.outbound.client import WhatsAppClient

PUBLIC = "https://9.9.9.9"  # a global address: the callback check passes without DNS


@pytest.fixture
def graph(sandbox: Sandbox) -> Sandbox:
    """The sandbox as Meta's Graph API (`graph.graph` is what the checks are given)."""
    return sandbox


def config_of(number: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {
        "phone_number_id": number["phone_number_id"],
        "whatsapp_number": "+" + number["display_phone_number"],
        "business_account_id": number["waba_id"],
        "access_token": number["access_token"],
        "app_secret": number["app_secret"],
        "verify_token": "a-verify-token",
        "messages_per_second": 80,
        **changes,
    }


def by_key(results: list[checks.Check]) -> dict[str, checks.Check]:
    return {r.key: r for r in results}


async def test_a_good_number_passes_and_the_app_is_subscribed_for_the_user(graph: Sandbox):
    number = graph.register_number()
    assert graph.state.subscribed_apps == {}
    results = by_key(
        await checks.run_checks(
            config_of(number), public_url=PUBLIC, subscribe=True, graph=graph.graph
        )
    )
    assert {k: r.status for k, r in results.items()} == {
        "token": "ok",
        "registration": "ok",
        "quality": "ok",
        "subscription": "ok",
        "callback": "ok",
    }, results
    assert "never expires" in results["token"].detail
    assert "just now" in results["subscription"].detail
    assert "TIER_1K" in results["quality"].detail and "STANDARD" in results["quality"].detail
    assert graph.state.subscribed_apps == {number["waba_id"]: {"1185423096147051": "iDesign CRM"}}
    again = by_key(
        await checks.run_checks(
            config_of(number), public_url=PUBLIC, subscribe=True, graph=graph.graph
        )
    )
    assert "receives this account's webhooks" in again["subscription"].detail


async def test_unsubscribed_without_permission_to_subscribe_is_a_problem(graph: Sandbox):
    number = graph.register_number(token_scopes=["whatsapp_business_messaging"])
    results = by_key(
        await checks.run_checks(
            config_of(number), public_url=PUBLIC, subscribe=True, graph=graph.graph
        )
    )
    assert results["token"].status == "problem"
    assert "lacks whatsapp_business_management" in results["token"].detail
    assert results["subscription"].status == "problem"
    assert "Meta error 200" in results["subscription"].detail
    doctor = by_key(
        await checks.run_checks(
            config_of(number), public_url=PUBLIC, subscribe=False, graph=graph.graph
        )
    )
    assert doctor["subscription"].status == "problem"
    assert graph.state.subscribed_apps == {}


@pytest.mark.parametrize(
    ("fields", "key", "status", "words"),
    [
        ({"registered": False}, "registration", "problem", "not registered"),
        ({"status": "FLAGGED"}, "registration", "problem", "FLAGGED"),
        ({"quality_rating": "RED"}, "quality", "problem", "quality RED"),
        ({"quality_rating": "YELLOW"}, "quality", "warning", "quality YELLOW"),
        (
            {"token_type": "USER", "token_expires_at": 4102444800},
            "token",
            "warning",
            "expires 2100",
        ),
        ({"token_expires_at": 1000}, "token", "problem", "Meta error 190"),
    ],
)
async def test_each_meta_outcome_is_explained(
    graph: Sandbox, fields: dict[str, Any], key: str, status: str, words: str
):
    number = graph.register_number(**fields)
    result = by_key(
        await checks.run_checks(
            config_of(number), public_url=PUBLIC, subscribe=False, graph=graph.graph
        )
    )
    assert result[key].status == status, result[key]
    assert words in result[key].detail, result[key]
    if status != "ok":
        assert result[key].fix or "Meta error" in result[key].detail


async def test_wrong_app_secret_wrong_waba_and_wrong_id(graph: Sandbox):
    number = graph.register_number()
    wrong_secret = config_of(number, app_secret="not-the-app-secret")
    result = by_key(
        await checks.run_checks(wrong_secret, public_url=PUBLIC, subscribe=False, graph=graph.graph)
    )
    assert result["token"].status == "problem" and "app secret" in result["token"].detail
    wrong_waba = config_of(number, business_account_id="999999999")
    result = by_key(
        await checks.run_checks(wrong_waba, public_url=PUBLIC, subscribe=False, graph=graph.graph)
    )
    assert result["token"].status == "problem" and "999999999" in result["token"].detail
    assert result["subscription"].status == "problem"
    wrong_id = config_of(number, phone_number_id="123456789")
    result = by_key(
        await checks.run_checks(wrong_id, public_url=PUBLIC, subscribe=False, graph=graph.graph)
    )
    assert result["registration"].status == "problem"
    assert "Meta does not know this id" in result["registration"].detail
    fast = config_of(number, messages_per_second=200)
    result = by_key(
        await checks.run_checks(fast, public_url=PUBLIC, subscribe=False, graph=graph.graph)
    )
    assert result["quality"].status == "warning" and "200 per second" in result["quality"].detail


@pytest.mark.parametrize(
    ("url", "status", "words"),
    [
        ("http://crm.example.com", "problem", "not https"),
        ("https://localhost:8000", "problem", "local name"),
        ("https://127.0.0.1", "problem", "private address"),
        ("https://192.168.1.20", "problem", "private address"),
        ("https://crm.internal", "problem", "local name"),
        ("https://9.9.9.9", "ok", "public https"),
    ],
)
async def test_callback_must_be_public_https(url: str, status: str, words: str):
    result = await checks.check_callback(url, has_verify_token=True)
    assert result.status == status and words in result.detail, result


async def test_callback_without_verify_token():
    result = await checks.check_callback(PUBLIC, has_verify_token=False)
    assert result.status == "problem" and "verify token" in result.detail


async def test_test_message_is_meta_hello_world_template(graph: Sandbox):
    number = graph.register_number(enforce_window=True)
    client = WhatsAppClient(
        phone_id=number["phone_number_id"], token=number["access_token"], graph=graph.graph
    )
    try:
        ok = await checks.send_test_message(client, "+49 151 2345 6789")
    finally:
        await client.aclose()
    assert ok.status == "ok", ok
    sent = graph.sent_messages()["messages"]
    assert sent[-1]["to"] == "4915123456789"
    assert sent[-1]["request"]["template"]["name"] == "hello_world"


async def test_test_message_from_an_unregistered_number(graph: Sandbox):
    number = graph.register_number(registered=False)
    client = WhatsAppClient(
        phone_id=number["phone_number_id"], token=number["access_token"], graph=graph.graph
    )
    try:
        result = await checks.send_test_message(client, "4915123456789")
    finally:
        await client.aclose()
    assert result.status == "problem" and "133010" in result.detail, result


def test_sandbox_debug_token_answers_like_meta(graph: Sandbox):
    import httpx

    number = graph.register_number()
    token = number["access_token"]
    answer = httpx.get(
        graph.base_url + "/v23.0/debug_token",
        params={"input_token": token},
        headers={"Authorization": f"Bearer {token}"},
    )
    data = answer.json()["data"]
    assert answer.status_code == 200 and data["is_valid"] and data["expires_at"] == 0
    assert {"scope": "whatsapp_business_messaging", "target_ids": [number["waba_id"]]} in data[
        "granular_scopes"
    ]
    other = httpx.get(
        graph.base_url + "/v23.0/debug_token",
        params={"input_token": "someone-elses-token"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()["data"]
    assert other["is_valid"] is False and other["error"]["code"] == 190
    refused = httpx.get(
        graph.base_url + "/v23.0/debug_token",
        params={"input_token": token},
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert refused.status_code == 401 and refused.json()["error"]["code"] == 190
    fields = httpx.get(
        graph.base_url + f"/v23.0/{number['phone_number_id']}",
        params={"fields": "status,quality_rating,bogus"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert fields.status_code == 400 and "bogus" in fields.json()["error"]["message"]
    assert time.time() > 0 and DEFAULT_NUMBER["waba_id"] == number["waba_id"]
