"""The connect page in Chromium on a 360 px wide screen: the checks and the test message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.sync_api import expect
from psycopg.rows import dict_row

from tests.web.test_browser import (  # noqa: F401  (fixtures)
    CHROMIUM,
    Session,
    browser,
    crm,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing"),
]


def _width(page: Any) -> int:
    return int(page.evaluate("() => document.documentElement.scrollWidth"))


def test_connect_page_checks_and_test_message_at_360px(browser: Any, crm: dict[str, Any]) -> None:  # noqa: F811
    with psycopg.connect(crm["url"], row_factory=dict_row, autocommit=True) as conn:
        config = conn.execute(
            "SELECT id FROM whatsapp_configuration WHERE user_id = %s", (crm["ann"]["user"]["id"],)
        ).fetchone()
    assert config is not None
    admin = Session(browser, crm, "root@example.com", mobile=True)
    try:
        page = admin.page
        page.set_viewport_size({"width": 360, "height": 780})
        page.goto(f"/admin/connect?config={config['id']}")
        assert _width(page) <= 360, f"the connect page is {_width(page)}px wide"
        page.click("button:has-text('Run the checks')")
        results = page.locator("#check-results li")
        expect(results).to_have_count(5)
        expect(page.locator("[data-check=token]")).to_have_attribute("data-status", "ok")
        expect(page.locator("[data-check=registration]")).to_have_attribute("data-status", "ok")
        # the test CRM's public URL is http on loopback: Meta could not call it
        expect(page.locator("[data-check=callback]")).to_have_attribute("data-status", "problem")
        assert _width(page) <= 360, f"the results are {_width(page)}px wide"
        page.fill("input[name=to]", "+49 151 1111 3333")
        page.click("button:has-text('Send me a test message')")
        expect(page.locator("#test-message-result")).to_have_attribute("data-status", "ok")
        assert _width(page) <= 360
    finally:
        admin.context.close()
    assert admin.errors == [], admin.errors
    sent = crm["sandbox"].sent_messages()["messages"]
    assert any(m["to"] == "4915111113333" for m in sent)
