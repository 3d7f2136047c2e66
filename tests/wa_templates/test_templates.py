"""Template management against the sandbox: Meta's rules before submission, create / edit /
delete through the Graph API, status and category kept by Meta's template webhooks (routed by the
WABA id, signed with the number's app secret), rejection reasons."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.broadcasts.conftest import graph_base  # noqa: F401 - fixture
from tests.helpers import configure_sandbox_number, make_agent_user
from tests.sandbox_fixture import DEFAULT_NUMBER, sign
from wacrm.numbers import service as numbers
from wacrm.outbound import templates as cache
from wacrm.wa_templates import rules, service


def _draft(**fields: Any) -> rules.Draft:
    base = {
        "name": "order_ready",
        "language": "en_US",
        "category": "UTILITY",
        "body": "Hi {{1}}, your order {{2}} is ready.",
        "body_examples": ["Ana", "#12"],
    }
    return rules.Draft(**{**base, **fields})


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": "Order Ready"}, "name", "lower-case"),
        ({"language": "english"}, "language", "language code"),
        ({"category": "AUTH"}, "category", "MARKETING or UTILITY"),
        ({"body": ""}, "body", "write the message body"),
        ({"body": "x" * 1025}, "body", "at most 1024"),
        ({"body": "{{1}} is ready, {{2}}."}, "body", "very start or end"),
        ({"body": "Order {{2}} is ready, {{3}} thanks"}, "body", "without gaps"),
        ({"body": "Hi {{1}} {{2}} there"}, "body", "next to each other"),
        ({"body": "Hi {{name}}, ready"}, "body", "numbers in double braces"),
        ({"body_examples": ["Ana"]}, "body_examples", "example for each of the 2"),
        ({"header": "Order {{1}} and {{2}}"}, "header", "at most one variable"),
        ({"header": "Order {{1}}"}, "header_example", "example for the header"),
        ({"header": "x" * 61}, "header", "at most 60"),
        ({"footer": "Thanks {{1}}"}, "footer", "cannot have variables"),
        ({"quick_replies": ["a" * 26]}, "quick_replies", "at most 25"),
        ({"url_text": "Track", "url": "http://x.example"}, "url", "https://"),
        ({"phone_text": "Call", "phone": "0151"}, "phone", "country code"),
    ],
)
def test_meta_rules(fields: dict[str, Any], field: str, message: str) -> None:
    assert message in str(rules.check(_draft(**fields)).get(field, "")), rules.check(
        _draft(**fields)
    )


def test_valid_draft_and_components() -> None:
    draft = _draft(
        header="Order {{1}}",
        header_example="#12",
        footer="iDesign",
        quick_replies=["Thanks", "Stop"],
        url_text="Track",
        url="https://shop.example/t",
    )
    assert rules.check(draft) == {}
    comps = rules.components(draft)
    assert [c["type"] for c in comps] == ["HEADER", "BODY", "FOOTER", "BUTTONS"]
    assert comps[1]["example"] == {"body_text": [["Ana", "#12"]]}
    assert (
        rules.draft_of(
            {"name": "order_ready", "language": "en_US", "category": "UTILITY", "components": comps}
        )
        == draft
    )


async def _webhook(
    client: Any, field: str, value: dict[str, Any], secret: str = DEFAULT_NUMBER["app_secret"]
) -> int:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": DEFAULT_NUMBER["waba_id"],
                "time": int(time.time()),
                "changes": [{"field": field, "value": value}],
            }
        ],
    }
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, secret)}
    return (await client.post("/webhooks/whatsapp", content=body, headers=headers)).status_code


async def _sandbox_template(sandbox: Any, name: str) -> dict[str, Any] | None:
    async with httpx.AsyncClient(base_url=sandbox.graph_url, trust_env=False) as http:
        answer = await http.get(
            f"/{DEFAULT_NUMBER['waba_id']}/message_templates",
            params={"name": name},
            headers={"Authorization": f"Bearer {DEFAULT_NUMBER['access_token']}"},
        )
    found = answer.json()["data"]
    return found[0] if found else None


async def test_create_review_webhooks_edit_delete(client: Any, conn: Any, graph_base: Any) -> None:  # noqa: F811
    sandbox = graph_base
    sandbox.register_number()
    user = await make_agent_user(conn, "shop@example.com")
    await configure_sandbox_number(conn, user["user_id"], DEFAULT_NUMBER)
    config = await numbers.get_by_agent_id(conn, agent_id=user["agent"]["id"])
    assert config is not None
    with pytest.raises(service.TemplateError) as bad:
        await service.submit(
            conn, config=config, draft=_draft(body="{{1}} hi {{2}}"), graph=sandbox.graph
        )
    assert "body" in bad.value.errors
    await service.submit(conn, config=config, draft=_draft(), graph=sandbox.graph)
    row = await service.get(conn, config_id=config["id"], name="order_ready", language="en_US")
    assert row is not None and row["status"] == "PENDING" and row["template_id"]
    at_meta = await _sandbox_template(sandbox, "order_ready")
    assert at_meta is not None and at_meta["id"] == row["template_id"]
    # the sandbox approves after its review delay
    deadline = time.monotonic() + 10
    while (await _sandbox_template(sandbox, "order_ready") or {}).get("status") != "APPROVED":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # Meta's webhook, routed by the WABA id (no phone number in it), signed with the app secret
    ident = {
        "message_template_id": int(row["template_id"]),
        "message_template_name": "order_ready",
        "message_template_language": "en_US",
    }
    assert (
        await _webhook(
            client,
            "message_template_status_update",
            {"event": "APPROVED", **ident, "reason": "NONE"},
            secret="wrong",
        )
        == 403
    )
    assert (
        await _webhook(
            client,
            "message_template_status_update",
            {"event": "APPROVED", **ident, "reason": "NONE"},
        )
        == 200
    )
    row = await service.get(conn, config_id=config["id"], name="order_ready", language="en_US")
    assert row is not None and row["status"] == "APPROVED"
    assert (
        await _webhook(
            client,
            "template_category_update",
            {**ident, "previous_category": "UTILITY", "new_category": "MARKETING"},
        )
        == 200
    )
    row = await service.get(conn, config_id=config["id"], name="order_ready", language="en_US")
    assert row is not None and (row["category"], row["previous_category"]) == (
        "MARKETING",
        "UTILITY",
    )
    # edit: reviewed again; a rejection shows Meta's reason
    await service.edit(
        conn,
        config=config,
        draft=_draft(category="MARKETING", body="Hi {{1}}, order {{2}} is ready!"),
        graph=sandbox.graph,
    )
    row = await service.get(conn, config_id=config["id"], name="order_ready", language="en_US")
    assert row is not None and row["status"] == "PENDING"
    assert (
        await _webhook(
            client,
            "message_template_status_update",
            {"event": "REJECTED", **ident, "reason": "INVALID_FORMAT"},
        )
        == 200
    )
    rows = {t["name"]: t for t in await cache.cached(conn, config_id=config["id"])}
    assert rows["order_ready"]["status"] == "REJECTED"
    assert str(service.explain_reason(rows["order_ready"]["rejected_reason"])).startswith(
        "the format is not valid"
    )
    await service.delete(conn, config=config, name="order_ready", graph=sandbox.graph)
    assert (
        await service.get(conn, config_id=config["id"], name="order_ready", language="en_US")
        is None
    )
    assert await _sandbox_template(sandbox, "order_ready") is None
    with pytest.raises(service.TemplateError, match="WhatsApp did not delete the template"):
        await service.delete(conn, config=config, name="order_ready", graph=sandbox.graph)


async def test_sandbox_rejects_names_on_request_and_refresh_keeps_reasons(
    conn: Any, graph_base: Any
) -> None:  # noqa: F811
    sandbox = graph_base
    sandbox.register_number()
    user = await make_agent_user(conn, "shop@example.com")
    await configure_sandbox_number(conn, user["user_id"], DEFAULT_NUMBER)
    config = await numbers.get_by_agent_id(conn, agent_id=user["agent"]["id"])
    assert config is not None
    async with httpx.AsyncClient(base_url=sandbox.base_url, trust_env=False) as http:
        await http.post(
            "/sandbox/templates/reject", json={"name": "too_pushy", "reason": "PROMOTIONAL"}
        )
    await service.submit(conn, config=config, draft=_draft(name="too_pushy"), graph=sandbox.graph)
    deadline = time.monotonic() + 10
    while (await _sandbox_template(sandbox, "too_pushy") or {}).get("status") != "REJECTED":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    found = {t["name"]: t for t in await cache.refresh(conn, config=config, graph=sandbox.graph)}
    assert (
        found["too_pushy"]["status"] == "REJECTED"
        and found["too_pushy"]["rejected_reason"] == "PROMOTIONAL"
    )
    assert found["too_pushy"]["template_id"]
    assert found["hello_world"]["status"] == "APPROVED"
