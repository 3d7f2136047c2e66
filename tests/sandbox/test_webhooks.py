"""Status webhooks and customer messages reach a receiver signed, in order, in Meta's shape."""

from __future__ import annotations

import hashlib
import hmac
import time

from tests.sandbox_fixture import DEFAULT_NUMBER

PID = DEFAULT_NUMBER["phone_number_id"]
SECRET = DEFAULT_NUMBER["app_secret"]
CUSTOMER = "4915123456789"
AUTH = {"Authorization": f"Bearer {DEFAULT_NUMBER['access_token']}"}


def check_signature(call: dict) -> None:
    expected = "sha256=" + hmac.new(SECRET.encode(), call["raw"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(call["headers"]["x-hub-signature-256"], expected)


def send_text(sandbox, to: str = CUSTOMER, kind: str = "text") -> str:
    body = {"messaging_product": "whatsapp", "to": to, "type": kind}
    body[kind] = {"body": "hi"} if kind == "text" else {"link": "https://example.com/v.ogg"}
    response = sandbox.http.post(f"/v23.0/{PID}/messages", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()["messages"][0]["id"]


def test_statuses_arrive_in_order_signed_and_shaped(sandbox, receiver) -> None:
    sandbox.register_number(webhook_url=receiver.url, status_delays_ms=[10, 30, 60])
    sandbox.send_as_customer(CUSTOMER)
    wamid = send_text(sandbox)
    receiver.wait(lambda: len(receiver.statuses(wamid)) == 3)
    statuses = receiver.statuses(wamid)
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    for status in statuses:
        call = status["_call"]
        check_signature(call)
        payload = call["json"]
        assert payload["object"] == "whatsapp_business_account"
        assert payload["entry"][0]["id"] == DEFAULT_NUMBER["waba_id"]
        change = payload["entry"][0]["changes"][0]
        assert change["field"] == "messages"
        value = change["value"]
        assert value["metadata"] == {"display_phone_number": "15550001111", "phone_number_id": PID}
        assert status["recipient_id"] == CUSTOMER and status["recipient_user_id"].startswith("DE.")
        assert status["timestamp"].isdigit()
        assert status["pricing"]["category"] == "service" and "origin" in status["conversation"]
        assert value["contacts"] == [{"wa_id": CUSTOMER, "user_id": status["recipient_user_id"]}]
    assert [
        c["json"]["entry"][0]["changes"][0]["value"]["statuses"][0]["status"]
        for c in receiver.calls[1:]
    ] == ["sent", "delivered", "read"]
    assert sandbox.wait_for_status(wamid, "read")["statuses"][-1]["crm_status"] == 200


def test_voice_gets_played_and_read_can_be_off(sandbox, receiver) -> None:
    sandbox.register_number(webhook_url=receiver.url, status_delays_ms=[0, 0, 0])
    sandbox.open_window(CUSTOMER)
    wamid = send_text(sandbox, kind="audio")
    receiver.wait(lambda: len(receiver.statuses(wamid)) == 4)
    assert [s["status"] for s in receiver.statuses(wamid)] == [
        "sent",
        "delivered",
        "read",
        "played",
    ]
    sandbox.register_number(webhook_url=receiver.url, status_delays_ms=[0, 0, 0], send_read=False)
    other = send_text(sandbox)
    receiver.wait(lambda: len(receiver.statuses(other)) == 2)
    sandbox.wait_for_status(other, "delivered")
    assert [s["status"] for s in receiver.statuses(other)] == ["sent", "delivered"]


def test_template_status_has_its_category(sandbox, receiver) -> None:
    sandbox.register_number(webhook_url=receiver.url, status_delays_ms=[0, 0, 0])
    body = {
        "messaging_product": "whatsapp",
        "to": CUSTOMER,
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }
    wamid = sandbox.http.post(f"/{PID}/messages", json=body, headers=AUTH).json()["messages"][0][
        "id"
    ]
    receiver.wait(lambda: len(receiver.statuses(wamid)) == 3)
    assert receiver.statuses(wamid)[0]["pricing"]["category"] == "utility"


def test_failed_status_for_a_failing_recipient(sandbox, receiver) -> None:
    sandbox.register_number(webhook_url=receiver.url, status_delays_ms=[0, 0, 0])
    sandbox.open_window(CUSTOMER)
    sandbox.fail_recipient(CUSTOMER, 131026)
    wamid = send_text(sandbox)
    receiver.wait(lambda: len(receiver.statuses(wamid)) == 1)
    (status,) = receiver.statuses(wamid)
    check_signature(status["_call"])
    assert status["status"] == "failed" and "recipient_user_id" not in status
    assert "contacts" not in status["_call"]["json"]["entry"][0]["changes"][0]["value"]
    (error,) = status["errors"]
    assert error["code"] == 131026 and error["title"] == "Message undeliverable"
    assert error["error_data"]["details"]


def test_window_error_as_a_failed_status(sandbox, receiver) -> None:
    sandbox.register_number(
        webhook_url=receiver.url, status_delays_ms=[0, 0, 0], window_error_via="status"
    )
    wamid = send_text(sandbox)
    receiver.wait(lambda: len(receiver.statuses(wamid)) == 1)
    assert receiver.statuses(wamid)[0]["errors"][0]["code"] == 131047


def test_redelivery_with_backoff_until_200(sandbox, receiver) -> None:
    sandbox.state.config.webhook_backoff_ms = 20
    sandbox.register_number(webhook_url=receiver.url, status_delays_ms=[0, 0, 0], send_read=False)
    receiver.answers = [500, 503]
    result = sandbox.send_as_customer(CUSTOMER, text="hello")
    assert result["status_code"] == 500
    receiver.wait(
        lambda: (
            sum(
                1
                for c in receiver.calls
                if "messages" in c["json"]["entry"][0]["changes"][0]["value"]
            )
            == 3
        )
    )
    bodies = [
        c["raw"]
        for c in receiver.calls
        if "messages" in c["json"]["entry"][0]["changes"][0]["value"]
    ]
    assert len(set(bodies)) == 1  # the same bytes re-delivered

    def message_attempts() -> list[dict]:
        return [d for d in sandbox.webhook_deliveries() if d["kind"] == "message"]

    # the sandbox records an attempt once the answer is back, just after the receiver saw it
    receiver.wait(lambda: len(message_attempts()) == 3)
    attempts = message_attempts()
    assert [(d["attempt"], d["status"]) for d in attempts] == [(1, 500), (2, 503), (3, 200)]


def test_redelivery_is_bounded(sandbox, receiver) -> None:
    sandbox.state.config.webhook_backoff_ms = 5
    sandbox.state.config.webhook_retries = 2
    sandbox.register_number(webhook_url=receiver.url)
    receiver.answers = [500] * 10
    sandbox.send_as_customer(CUSTOMER, text="hello")
    receiver.wait(lambda: len(receiver.calls) == 3)
    time.sleep(0.1)
    assert len(receiver.calls) == 3


def test_unreachable_crm_is_reported(sandbox) -> None:
    sandbox.register_number(webhook_url="http://127.0.0.1:9/webhooks/whatsapp")
    result = sandbox.send_as_customer(CUSTOMER, text="hello")
    assert result["status_code"] is None
