"""The Graph API routes of the sandbox: answers, rules and errors in Meta's shapes."""

from __future__ import annotations

import hashlib
import time

import httpx
import pytest

from tests.sandbox_fixture import DEFAULT_NUMBER

PID = DEFAULT_NUMBER["phone_number_id"]
TOKEN = DEFAULT_NUMBER["access_token"]
CUSTOMER = "4915123456789"


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def send(sandbox, body: dict, *, token: str = TOKEN, version: str = "/v23.0") -> httpx.Response:
    payload = {"messaging_product": "whatsapp", "to": CUSTOMER, **body}
    return sandbox.http.post(f"{version}/{PID}/messages", json=payload, headers=auth(token))


def assert_error(response: httpx.Response, status: int, code: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert {"message", "type", "code", "error_data", "fbtrace_id"} <= error.keys()
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert error["error_data"]["details"]
    return error


def upload(sandbox, content: bytes = b"\x89PNG\r\n\x1a\nfake", mime: str = "image/png") -> str:
    files = {
        "file": ("a.png", content, mime),
        "messaging_product": (None, "whatsapp"),
        "type": (None, mime),
    }
    response = sandbox.http.post(f"/v23.0/{PID}/media", files=files, headers=auth())
    assert response.status_code == 200, response.text
    return response.json()["id"]


@pytest.fixture
def number(sandbox):
    sandbox.register_number()
    sandbox.open_window(CUSTOMER)
    return sandbox


def test_text_send_answers_like_meta_with_and_without_version(number) -> None:
    for version in ("/v23.0", "/v21.0", ""):
        response = send(
            number, {"type": "text", "text": {"preview_url": True, "body": "hi"}}, version=version
        )
        assert response.status_code == 200, response.text
        data = response.json()
        assert data["messaging_product"] == "whatsapp"
        assert data["contacts"] == [{"input": CUSTOMER, "wa_id": CUSTOMER}]
        assert data["messages"][0]["id"].startswith("wamid.")
    sent = number.sent_messages(phone_number_id=PID, to=CUSTOMER)
    assert sent["count"] == 3 and len({m["wamid"] for m in sent["messages"]}) == 3


def test_plus_and_spaces_in_to_are_normalised(number) -> None:
    response = send(number, {"to": "+49 151 2345 6789", "type": "text", "text": {"body": "x"}})
    assert response.json()["contacts"] == [{"input": "+49 151 2345 6789", "wa_id": CUSTOMER}]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "image", "image": {"link": "https://example.com/a.png", "caption": "look"}},
        {"type": "video", "video": {"link": "https://example.com/a.mp4"}},
        {"type": "audio", "audio": {"link": "https://example.com/a.ogg"}},
        {
            "type": "document",
            "document": {"link": "https://example.com/a.pdf", "filename": "a.pdf"},
        },
        {"type": "sticker", "sticker": {"link": "https://example.com/a.webp"}},
        {"type": "location", "location": {"latitude": 52.5, "longitude": 13.4, "name": "Shop"}},
        {
            "type": "contacts",
            "contacts": [{"name": {"formatted_name": "Ana"}, "phones": [{"phone": "+1555"}]}],
        },
        {"type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "\U0001f44d"}},
        {"type": "text", "text": {"body": "reply"}, "context": {"message_id": "wamid.ABC"}},
        {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "Pick"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "A"}}]},
            },
        },
        {
            "type": "interactive",
            "interactive": {
                "type": "list",
                "body": {"text": "Pick"},
                "action": {
                    "button": "Menu",
                    "sections": [{"title": "S", "rows": [{"id": "r1", "title": "R1"}]}],
                },
            },
        },
    ],
)
def test_every_type_is_accepted(number, body) -> None:
    response = send(number, body)
    assert response.status_code == 200, response.text
    assert number.sent_messages()["messages"][0]["type"] == body["type"]


def test_media_by_uploaded_id_and_unknown_id(number) -> None:
    media_id = upload(number)
    assert (
        send(number, {"type": "image", "image": {"id": media_id, "caption": "c"}}).status_code
        == 200
    )
    assert_error(send(number, {"type": "image", "image": {"id": "999"}}), 400, 131009)


def test_media_info_and_download_need_the_token(number) -> None:
    content = b"\x89PNG\r\n\x1a\n" + b"x" * 100
    media_id = upload(number, content)
    info = number.http.get(f"/v23.0/{media_id}", headers=auth()).json()
    assert info["id"] == media_id and info["mime_type"] == "image/png"
    assert (
        info["file_size"] == len(content) and info["sha256"] == hashlib.sha256(content).hexdigest()
    )
    assert info["messaging_product"] == "whatsapp" and info["url"].startswith(number.base_url)
    got = httpx.get(info["url"], headers=auth())
    assert got.status_code == 200 and got.content == content
    assert_error(httpx.get(info["url"]), 401, 190)
    assert_error(httpx.get(info["url"], headers=auth("wrong-token-123")), 401, 190)
    assert_error(number.http.get(f"/v23.0/{media_id}", headers=auth("nope")), 401, 190)


def test_upload_bad_inputs(number) -> None:
    no_file = number.http.post(
        f"/v23.0/{PID}/media", data={"messaging_product": "whatsapp"}, headers=auth()
    )
    assert_error(no_file, 400, 100)
    files = {"file": ("a.png", b"x", "image/png"), "type": (None, "image/png")}
    assert_error(number.http.post(f"/v23.0/{PID}/media", files=files, headers=auth()), 400, 100)
    assert number.state.media == {}


def test_phone_number_details_templates_and_subscription(number) -> None:
    details = number.http.get(f"/v23.0/{PID}", headers=auth()).json()
    assert details["id"] == PID and details["display_phone_number"] == "15550001111"
    assert {"verified_name", "quality_rating", "code_verification_status"} <= details.keys()
    waba = DEFAULT_NUMBER["waba_id"]
    templates = number.http.get(f"/v23.0/{waba}/message_templates", headers=auth()).json()
    names = {t["name"] for t in templates["data"]}
    assert {"hello_world", "order_update"} <= names
    order_update = next(t for t in templates["data"] if t["name"] == "order_update")
    body = next(c for c in order_update["components"] if c["type"] == "BODY")
    assert (
        "{{1}}" in body["text"] and "{{2}}" in body["text"] and order_update["status"] == "APPROVED"
    )
    one = number.http.get(
        f"/v23.0/{waba}/message_templates", params={"name": "hello_world"}, headers=auth()
    )
    assert [t["name"] for t in one.json()["data"]] == ["hello_world"]
    sub = number.http.post(f"/v23.0/{waba}/subscribed_apps", headers=auth())
    assert sub.json() == {"success": True}
    assert_error(
        number.http.post(f"/v23.0/{waba}/subscribed_apps", headers=auth("bad-token-1")), 401, 190
    )


def test_mark_as_read(number) -> None:
    wamid = number.send_as_customer(CUSTOMER, deliver=False)["wamid"]
    response = send(number, {"status": "read", "message_id": wamid})
    assert response.json() == {"success": True}
    assert number.sent_messages()["count"] == 0
    inbound = number.state.customers[(PID, CUSTOMER)].inbound
    assert inbound[0]["read_by_business"] is True
    assert_error(send(number, {"status": "read"}), 400, 100)


def test_token_rules(number) -> None:
    error = assert_error(
        send(number, {"type": "text", "text": {"body": "x"}}, token="wrong-token"), 401, 190
    )
    assert error["type"] == "OAuthException"
    other = number.register_number(
        phone_number_id="200", access_token="other-token-200", app_secret="s" * 10
    )
    assert_error(
        send(number, {"type": "text", "text": {"body": "x"}}, token=other["access_token"]), 401, 190
    )
    missing = number.http.post(f"/v23.0/{PID}/messages", json={"messaging_product": "whatsapp"})
    assert_error(missing, 401, 190)
    assert_error(number.http.get("/v23.0/424242", headers=auth()), 400, 100)
    assert number.sent_messages()["count"] == 0
    assert number.sent_messages(phone_number_id=PID)["errors"]["190"] == 3


def test_window_rule(sandbox) -> None:
    sandbox.register_number()
    text = {"type": "text", "text": {"body": "hello"}}
    assert_error(send(sandbox, text), 400, 131047)
    sandbox.send_as_customer(CUSTOMER, deliver=False, timestamp=int(time.time()) - 25 * 3600)
    assert_error(send(sandbox, text), 400, 131047)
    template = {
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }
    accepted = send(sandbox, template)
    assert (
        accepted.status_code == 200
        and accepted.json()["messages"][0]["message_status"] == "accepted"
    )
    sandbox.send_as_customer(CUSTOMER, deliver=False)
    assert send(sandbox, text).status_code == 200
    assert sandbox.sent_messages()["errors"] == {"131047": 2}


def test_window_follows_the_bsuid_too(sandbox) -> None:
    sandbox.register_number()
    result = sandbox.send_as_customer(CUSTOMER, deliver=False)
    by_bsuid = sandbox.http.post(
        f"/v23.0/{PID}/messages",
        headers=auth(),
        json={
            "messaging_product": "whatsapp",
            "recipient": result["user_id"],
            "type": "text",
            "text": {"body": "x"},
        },
    )
    assert by_bsuid.status_code == 200, by_bsuid.text
    assert by_bsuid.json()["contacts"][0] == {
        "input": result["user_id"],
        "wa_id": CUSTOMER,
        "user_id": result["user_id"],
    }


def test_templates_unknown_and_parameters(number) -> None:
    def template(name: str, lang: str = "en_US", params: int | None = None) -> dict:
        tpl: dict = {"name": name, "language": {"code": lang}}
        if params is not None:
            tpl["components"] = [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": str(i)} for i in range(params)],
                }
            ]
        return {"type": "template", "template": tpl}

    error = assert_error(send(number, template("no_such_template")), 404, 132001)
    assert "no_such_template" in error["error_data"]["details"]
    assert_error(send(number, template("order_update", "de_DE", 2)), 404, 132001)
    assert_error(send(number, template("order_update", params=1)), 400, 132000)
    assert send(number, template("order_update", params=2)).status_code == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"messaging_product": "telegram", "type": "text", "text": {"body": "x"}}, 100),
        ({"type": "fax", "fax": {}}, 100),
        ({"type": "text"}, 100),
        ({"type": "text", "text": {"body": ""}}, 100),
        ({"type": "text", "text": {"body": "x" * 4097}}, 131009),
        ({"to": "12ab", "type": "text", "text": {"body": "x"}}, 131009),
        ({"to": None, "type": "text", "text": {"body": "x"}}, 100),
        ({"type": "image", "image": {"link": "ftp://x"}}, 131009),
        ({"type": "image", "image": {}}, 100),
        ({"type": "audio", "audio": {"link": "https://x/a.ogg", "caption": "no"}}, 100),
        ({"type": "location", "location": {"latitude": 200, "longitude": 0}}, 131009),
        (
            {
                "type": "interactive",
                "interactive": {"type": "button", "body": {"text": "x"}, "action": {"buttons": []}},
            },
            131009,
        ),
        ({"type": "text", "text": {"body": "x"}, "context": {"message_id": 5}}, 100),
    ],
)
def test_invalid_parameters(number, body, code) -> None:
    payload = {"messaging_product": "whatsapp", "to": CUSTOMER, **body}
    if payload["to"] is None:
        del payload["to"]
    response = number.http.post(f"/v23.0/{PID}/messages", json=payload, headers=auth())
    assert_error(response, 400, code)
    assert number.sent_messages()["count"] == 0


def test_invalid_json_body(number) -> None:
    response = number.http.post(f"/v23.0/{PID}/messages", content=b"{not json", headers=auth())
    assert_error(response, 400, 100)


def test_throughput_limit_at_the_configured_rate(sandbox) -> None:
    sandbox.register_number(messages_per_second=5)
    sandbox.open_window(CUSTOMER)
    answers = [send(sandbox, {"type": "text", "text": {"body": str(i)}}) for i in range(8)]
    assert [r.status_code for r in answers] == [200] * 5 + [429] * 3
    error = assert_error(answers[-1], 429, 130429)
    assert "throughput" in error["error_data"]["details"]
    stats = sandbox.sent_messages()
    assert stats["count"] == 5 and stats["errors"] == {"130429": 3}
    time.sleep(1.05)
    assert send(sandbox, {"type": "text", "text": {"body": "again"}}).status_code == 200


def test_pair_rate_limit_is_off_by_default_and_configurable(sandbox) -> None:
    sandbox.register_number(pair_limit=2, pair_window_seconds=6)
    sandbox.open_window(CUSTOMER)
    sandbox.open_window("4915100000000")
    codes = [send(sandbox, {"type": "text", "text": {"body": "x"}}).status_code for _ in range(3)]
    assert codes == [200, 200, 400]
    assert (
        send(sandbox, {"to": "4915100000000", "type": "text", "text": {"body": "x"}}).status_code
        == 200
    )
    assert sandbox.sent_messages()["errors"] == {"131056": 1}
    sandbox.register_number()  # re-registering without pair_limit turns it off
    assert all(
        send(sandbox, {"type": "text", "text": {"body": "x"}}).status_code == 200 for _ in range(4)
    )
