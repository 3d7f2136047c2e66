"""Playing a customer: Meta's inbound payload for every type, signed and delivered to the CRM."""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx
import pytest

from tests.sandbox_fixture import DEFAULT_NUMBER, signed_inbound, verify

PID = DEFAULT_NUMBER["phone_number_id"]
SECRET = DEFAULT_NUMBER["app_secret"]
PHONE = "5511912345678"
AUTH = {"Authorization": f"Bearer {DEFAULT_NUMBER['access_token']}"}

# type sent -> (wire type, required keys of the type object), from whatsapp-cloud-api.md
SHAPES = {
    "text": ("text", {"body"}),
    "image": ("image", {"id", "mime_type", "sha256"}),
    "video": ("video", {"id", "mime_type", "sha256"}),
    "audio": ("audio", {"id", "mime_type", "sha256"}),
    "voice": ("audio", {"id", "mime_type", "sha256", "voice"}),
    "document": ("document", {"id", "mime_type", "sha256", "filename"}),
    "sticker": ("sticker", {"id", "mime_type", "sha256"}),
    "location": ("location", {"latitude", "longitude"}),
    "interactive": ("interactive", {"type", "button_reply"}),
    "button": ("button", {"payload", "text"}),
    "reaction": ("reaction", {"message_id", "emoji"}),
    "order": ("order", {"catalog_id", "product_items"}),
    "system": ("system", {"body", "type"}),
    "unsupported": ("unsupported", set()),
}


def value_of(payload: dict) -> dict:
    assert payload["object"] == "whatsapp_business_account"
    (entry,) = payload["entry"]
    assert entry["id"] == DEFAULT_NUMBER["waba_id"]
    (change,) = entry["changes"]
    assert change["field"] == "messages"
    value = change["value"]
    assert value["messaging_product"] == "whatsapp"
    assert value["metadata"] == {"display_phone_number": "15550001111", "phone_number_id": PID}
    return value


@pytest.mark.parametrize("kind", list(SHAPES))
def test_every_type_has_metas_shape_and_a_valid_signature(sandbox, receiver, kind) -> None:
    sandbox.register_number(webhook_url=receiver.url)
    result = sandbox.send_as_customer(PHONE, kind, name="Ana")
    assert result["status_code"] == 200
    (call,) = receiver.calls
    expected = "sha256=" + hmac.new(SECRET.encode(), call["raw"], hashlib.sha256).hexdigest()
    assert call["headers"]["x-hub-signature-256"] == expected
    assert call["raw"].decode() == result["body"]
    value = value_of(call["json"])
    (msg,) = value["messages"]
    wire, keys = SHAPES[kind]
    assert msg["type"] == wire and msg["id"] == result["wamid"] and msg["id"].startswith("wamid.")
    assert msg["from"] == PHONE and msg["from_user_id"] == result["user_id"]
    assert msg["timestamp"].isdigit() and abs(int(msg["timestamp"]) - time.time()) < 60
    assert keys <= set(msg.get(wire, {}))
    if kind == "system":
        assert "contacts" not in value
    else:
        assert value["contacts"] == [
            {"profile": {"name": "Ana"}, "wa_id": PHONE, "user_id": result["user_id"]}
        ]
    if kind == "unsupported":
        assert msg["errors"][0]["code"] == 131051
    if kind in ("button", "interactive"):
        assert msg["context"]["from"] == "15550001111"


def test_contacts_and_list_reply_and_custom_content(sandbox, receiver) -> None:
    sandbox.register_number(webhook_url=receiver.url)
    sandbox.send_as_customer(PHONE, "contacts")
    sandbox.send_as_customer(
        PHONE,
        "interactive",
        content={
            "type": "list_reply",
            "list_reply": {"id": "row-2", "title": "Blue", "description": "Size M"},
        },
    )
    order = {
        "catalog_id": "99",
        "product_items": [
            {"product_retailer_id": "A", "quantity": 1, "item_price": 5, "currency": "BRL"}
        ],
    }
    sandbox.send_as_customer(PHONE, "order", content=order)
    msgs = [value_of(c["json"])["messages"][0] for c in receiver.calls]
    assert msgs[0]["contacts"][0]["name"]["formatted_name"]
    assert msgs[1]["interactive"] == {
        "type": "list_reply",
        "list_reply": {"id": "row-2", "title": "Blue", "description": "Size M"},
    }
    assert (
        msgs[2]["order"]["catalog_id"] == "99"
        and msgs[2]["order"]["product_items"][0]["currency"] == "BRL"
    )


def test_reply_and_reaction_to_a_business_message(sandbox, receiver) -> None:
    sandbox.register_number(webhook_url=receiver.url)
    sandbox.send_as_customer(PHONE, text="hi")
    sent = sandbox.http.post(
        f"/{PID}/messages",
        headers=AUTH,
        json={
            "messaging_product": "whatsapp",
            "to": PHONE,
            "type": "text",
            "text": {"body": "Hello Ana"},
        },
    ).json()
    wamid = sent["messages"][0]["id"]
    sandbox.send_as_customer(PHONE, text="thanks", context_message_id=wamid)
    sandbox.send_as_customer(PHONE, "reaction", content={"message_id": wamid, "emoji": "\u2764"})
    replies = [
        value_of(c["json"])["messages"][0]
        for c in receiver.calls
        if "messages" in c["json"]["entry"][0]["changes"][0]["value"]
    ]
    assert replies[1]["context"] == {"from": "15550001111", "id": wamid}
    assert replies[2]["reaction"] == {"message_id": wamid, "emoji": "\u2764"}


def test_old_shape_and_username_only_customers(sandbox, receiver) -> None:
    sandbox.register_number(webhook_url=receiver.url)
    sandbox.send_as_customer(PHONE, shape="old")
    sandbox.send_as_customer("US.13491208655302741918", username="ana.shop")
    sandbox.send_as_customer(PHONE, hide_phone=True, username="ana")
    old, username_only, hidden = (value_of(c["json"]) for c in receiver.calls)
    assert old["contacts"] == [{"profile": {"name": "Sandbox Customer"}, "wa_id": PHONE}]
    assert "from_user_id" not in old["messages"][0] and old["messages"][0]["from"] == PHONE
    assert username_only["contacts"] == [
        {
            "profile": {"name": "Sandbox Customer", "username": "ana.shop"},
            "user_id": "US.13491208655302741918",
        }
    ]
    assert "from" not in username_only["messages"][0]
    assert username_only["messages"][0]["from_user_id"] == "US.13491208655302741918"
    assert "wa_id" not in hidden["contacts"][0] and "from" not in hidden["messages"][0]


def test_customer_image_is_a_real_png_the_crm_can_download(sandbox, receiver) -> None:
    sandbox.register_number(webhook_url=receiver.url)
    result = sandbox.send_as_customer(PHONE, "image", text="my photo")
    image = value_of(receiver.calls[0]["json"])["messages"][0]["image"]
    assert image["caption"] == "my photo" and image["mime_type"] == "image/png"
    info = httpx.get(f"{sandbox.graph_url}/{image['id']}", headers=AUTH).json()
    assert info["id"] == result["media_id"] and info["sha256"] == image["sha256"]
    content = httpx.get(info["url"], headers=AUTH).content
    assert (
        content.startswith(b"\x89PNG\r\n\x1a\n")
        and hashlib.sha256(content).hexdigest() == image["sha256"]
    )
    assert len(content) == info["file_size"]


def test_dry_run_builds_and_signs_without_posting(sandbox) -> None:
    sandbox.register_number()
    result = sandbox.send_as_customer(PHONE, text="hello", deliver=False)
    assert result["status_code"] is None
    assert verify(result["body"].encode(), SECRET, result["signature"])
    assert value_of(result["payload"])["messages"][0]["text"] == {"body": "hello"}


def test_plain_helper_without_http() -> None:
    body, headers, payload = signed_inbound("location", phone=PHONE)
    assert verify(body, SECRET, headers["X-Hub-Signature-256"])
    assert not verify(body + b" ", SECRET, headers["X-Hub-Signature-256"])
    msg = value_of(payload)["messages"][0]
    assert (
        msg["type"] == "location" and msg["from"] == PHONE and msg["from_user_id"].startswith("BR.")
    )
    _, _, old = signed_inbound("text", "hi", shape="old")
    assert "user_id" not in value_of(old)["contacts"][0]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/sandbox/customers/abc/send", {"type": "text"}, 422),
        ("/sandbox/customers/15550101234/send", {"type": "fax"}, 422),
        ("/sandbox/customers/US.123456/send", {"type": "text", "shape": "old"}, 422),
        (
            "/sandbox/customers/15550101234/send",
            {"type": "text", "shape": "old", "hide_phone": True},
            422,
        ),
        ("/sandbox/customers/15550101234/send", {"type": "text", "phone_number_id": "777"}, 404),
        ("/sandbox/customers/15550101234/send", {"type": "text"}, 409),  # no webhook_url
        ("/sandbox/numbers", {"phone_number_id": "x"}, 422),
        ("/sandbox/faults", {"mode": "explode"}, 422),
        ("/sandbox/faults", {"mode": "slow", "probability": 2}, 422),
    ],
)
def test_control_api_bad_inputs(sandbox, path, body, status) -> None:
    sandbox.register_number()
    response = sandbox.http.post(path, json=body)
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    assert sandbox.state.customers == {} and sandbox.state.faults.mode == "none"


def test_no_number_registered_is_a_clear_error(sandbox) -> None:
    response = sandbox.http.post("/sandbox/customers/15550101234/send", json={"type": "text"})
    assert response.status_code == 422 and "phone_number_id" in response.json()["detail"]


def test_page_and_customer_view(sandbox) -> None:
    sandbox.register_number()
    page = sandbox.http.get("/sandbox/")
    assert page.status_code == 200 and "<form" in page.text
    assert "<link" not in page.text and " src=" not in page.text  # no external assets
    assert sandbox.http.get("/sandbox", follow_redirects=True).status_code == 200
    sandbox.send_as_customer(PHONE, deliver=False)
    sandbox.http.post(
        f"/{PID}/messages",
        headers=AUTH,
        json={"messaging_product": "whatsapp", "to": PHONE, "type": "text", "text": {"body": "Hi"}},
    )
    (customer,) = sandbox.http.get("/sandbox/customers").json()["customers"]
    assert (
        customer["phone"] == PHONE and len(customer["inbound"]) == 1 and len(customer["sent"]) == 1
    )
