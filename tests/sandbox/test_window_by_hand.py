"""Item 13.15: a window closed by hand (the sandbox page, POST /sandbox/customers/{c}/window) is
honoured also by a number that does not enforce windows otherwise (the demo's number)."""

from __future__ import annotations

import time

from tests.sandbox.test_graph import CUSTOMER, PID, assert_error, send

TEXT = {"type": "text", "text": {"body": "hello"}}
TEMPLATE = {"type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}


def _window(sandbox, last_inbound_at):
    response = sandbox.http.post(
        f"/sandbox/customers/{CUSTOMER}/window",
        json={"phone_number_id": PID, "last_inbound_at": last_inbound_at},
    )
    assert response.status_code == 200, response.text
    return response.json()["open"]


def test_demo_number_honours_a_window_closed_by_hand(sandbox) -> None:
    sandbox.register_number(enforce_window=False)  # as wacrm.demo registers it
    assert send(sandbox, TEXT).status_code == 200  # unknown window: the CRM decides
    sandbox.send_as_customer(CUSTOMER, deliver=False)
    assert send(sandbox, TEXT).status_code == 200
    assert _window(sandbox, None) is False  # "Close it" on the sandbox page
    assert_error(send(sandbox, TEXT), 400, 131047)
    assert send(sandbox, TEMPLATE).status_code == 200  # templates always pass
    sandbox.send_as_customer(CUSTOMER, deliver=False)  # the customer writes again
    assert send(sandbox, TEXT).status_code == 200
    _window(sandbox, None)
    assert _window(sandbox, time.time()) is True  # "Open it"
    assert send(sandbox, TEXT).status_code == 200


def test_sandbox_page_offers_closing_and_opening_the_window(sandbox) -> None:
    page = sandbox.http.get("/sandbox/")
    assert page.status_code == 200
    assert 'id="close-window"' in page.text and 'id="open-window"' in page.text
    assert "/window" in page.text
