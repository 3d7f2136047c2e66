"""Issue 17 on a phone, in Chromium: the header is one row with a Menu button, the chat's
conversation bar one row with the rest behind a button, so the conversation gets the screen; every
page at 360 px has no sideways scrolling, also with the menu open.

Reuses the fixtures of test_browser.py / test_phone_browser.py (one CRM server for this module).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.test_browser import (  # noqa: F401  (fixtures)
    CHROMIUM,
    SCREENSHOTS,
    ann_customer_id,
    browser,
    crm,
    run_async,
)
from tests.web.test_phone_browser import OVERFLOW_JS, Phone, long_content  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing"),
]
HEIGHT = 780

HEIGHTS_JS = """
() => {
  const h = sel => { const e = document.querySelector(sel); return e ? Math.round(e.getBoundingClientRect().height) : null; };
  return {header: h(".topbar"), bar: h("#conv-bar"), head: h(".chat-head"), thread: h("#thread"),
          composer: h("#composer")};
}
"""


@pytest.mark.parametrize("width", [360, 390])
def test_the_conversation_gets_the_screen(
    browser: Any,  # noqa: F811
    crm: dict[str, Any],  # noqa: F811
    long_content: dict[str, Any],  # noqa: F811
    width: int,
) -> None:
    from playwright.sync_api import expect

    phone = Phone(browser, crm, "ann@example.com", viewport={"width": width, "height": HEIGHT})
    page = phone.page
    page.goto(f"/chat/{long_content['customer_id']}")
    page.wait_for_load_state("load")
    sizes = page.evaluate(HEIGHTS_JS)
    # one row each (44 px touch targets and a little padding); before: 228 px and 200 px
    assert sizes["header"] <= 60, sizes
    assert sizes["bar"] <= 60, sizes
    assert sizes["thread"] >= HEIGHT * 0.45, sizes
    expect(page.locator("#composer button[type=submit]")).to_be_in_viewport()
    expect(page.locator("nav a[href='/orders']")).to_be_hidden()
    expect(page.locator("#conv-assignee")).to_be_hidden()
    expect(page.locator("#resolve-button, #reopen-button").first).to_be_visible()
    # the menu opens below the header, and Escape closes it
    page.click("#menu-toggle")
    expect(page.locator("#menu-toggle")).to_have_attribute("aria-expanded", "true")
    for link in ("/inbox", "/orders", "/dashboard", "/account/preferences"):
        expect(page.locator(f".menu a[href='{link}']")).to_be_visible()
    expect(page.locator(".topbar form[action='/logout'] button")).to_be_visible()
    assert page.evaluate(OVERFLOW_JS) == [], "the open menu is wider than the screen"
    if width == 390:
        page.screenshot(path=str(SCREENSHOTS / "phone-menu.png"))
    page.keyboard.press("Escape")
    expect(page.locator("nav a[href='/orders']")).to_be_hidden()
    # the rest of the conversation bar behind its button; still open after a live re-render
    page.click("#conv-more-toggle")
    expect(page.locator("#conv-assignee")).to_be_visible()
    expect(page.locator("#conv-status-select")).to_be_visible()
    assert page.evaluate(OVERFLOW_JS) == [], "the open bar is wider than the screen"
    page.evaluate("() => htmx.trigger(document.body, 'live-chat', {})")
    page.wait_for_timeout(600)
    expect(page.locator("#conv-assignee")).to_be_visible()
    page.click("#conv-more-toggle")
    expect(page.locator("#conv-assignee")).to_be_hidden()
    # the menu leads somewhere
    page.click("#menu-toggle")
    page.click(".topbar a[href='/orders']")
    page.wait_for_url("**/orders")
    expect(page.locator("#menu-toggle")).to_have_attribute("aria-expanded", "false")
    phone.close()
    assert phone.errors == [], phone.errors


def test_every_page_at_360_px_has_no_sideways_scrolling(
    browser: Any,  # noqa: F811
    crm: dict[str, Any],  # noqa: F811
    long_content: dict[str, Any],  # noqa: F811
) -> None:
    cid, oid = long_content["customer_id"], long_content["order_id"]
    size = {"width": 360, "height": 740}
    pages = (
        "/inbox",
        f"/chat/{cid}",
        "/orders",
        f"/orders/{oid}",
        "/orders/new",
        "/dashboard",
        "/broadcasts",
        "/team",
        "/templates",
        "/customers/import",
        "/settings/away",
        "/settings/customer-messages",
        "/account/preferences",
        "/account/password",
    )
    admin_pages = (
        "/admin/users",
        "/admin/agents",
        "/admin/numbers",
        "/admin/webhooks",
        "/admin/integrations",
        "/admin/connect",
        "/dashboard?agents=all",
    )
    for email, paths in (("ann@example.com", pages), ("root@example.com", admin_pages)):
        phone = Phone(browser, crm, email, viewport=size)
        for path in paths:
            response = phone.page.goto(path)
            assert response is not None and response.status == 200, path
            phone.check_fits(f"{path} at 360 px")
            phone.page.click("#menu-toggle")
            assert phone.page.evaluate(OVERFLOW_JS) == [], f"{path} with the menu open"
        phone.close()
        assert phone.errors == [], (email, phone.errors)
