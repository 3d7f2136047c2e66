"""Fault injection on the Graph API answers (for the reliability tests of the CRM)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.sandbox_fixture import DEFAULT_NUMBER

PID = DEFAULT_NUMBER["phone_number_id"]
AUTH = {"Authorization": f"Bearer {DEFAULT_NUMBER['access_token']}"}
CUSTOMER = "4915123456789"
TEXT = {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {"body": "x"}}


@pytest.fixture
def number(sandbox):
    sandbox.register_number()
    sandbox.open_window(CUSTOMER)
    return sandbox


def send(sandbox, timeout: float = 10) -> httpx.Response:
    return httpx.post(
        f"{sandbox.graph_url}/{PID}/messages", json=TEXT, headers=AUTH, timeout=timeout
    )


def test_error5xx_for_count_requests(number) -> None:
    number.set_faults("error5xx", count=2)
    codes = [send(number).status_code for _ in range(3)]
    assert codes == [500, 500, 200]
    assert number.sent_messages()["count"] == 1
    assert number.sent_messages()["errors"] == {"131000": 2}


def test_token_expired(number) -> None:
    number.set_faults("token_expired")
    response = send(number)
    error = response.json()["error"]
    assert response.status_code == 401 and error["code"] == 190 and error["error_subcode"] == 463
    assert number.http.get(f"/v23.0/{PID}", headers=AUTH).status_code == 401
    number.set_faults("none")
    assert send(number).status_code == 200


def test_slow(number) -> None:
    number.set_faults("slow", delay_ms=800, count=1)
    start = time.monotonic()
    assert send(number).status_code == 200
    assert time.monotonic() - start >= 0.8
    start = time.monotonic()
    assert send(number).status_code == 200
    assert time.monotonic() - start < 0.8  # only the first one was delayed


def test_drop_accepts_the_message_but_loses_the_answer(number) -> None:
    number.set_faults("drop", count=1)
    with pytest.raises(httpx.TransportError):
        send(number, timeout=5)
    assert (
        number.sent_messages()["count"] == 1
    )  # Meta accepted it; the caller never learnt the wamid
    assert send(number).status_code == 200


def test_probability_zero_spares_everything(number) -> None:
    number.set_faults("error5xx", probability=0.0)
    assert all(send(number).status_code == 200 for _ in range(5))
    assert number.http.get("/sandbox/faults").json()["hits"] == 0


def test_faults_do_not_touch_the_control_api_and_reset_clears_them(number) -> None:
    number.set_faults("error5xx")
    assert number.http.get("/sandbox/messages").status_code == 200
    number.reset(keep_numbers=True)
    assert number.state.faults.mode == "none" and PID in number.state.numbers
    number.open_window(CUSTOMER)
    assert send(number).status_code == 200
