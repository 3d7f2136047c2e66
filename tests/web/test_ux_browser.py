"""Issue 13 items 11-13 in a real browser (Chromium via Playwright, the sandbox): form errors
shown next to their fields, the decimal comma, "New order" on the Orders page with units counted
the same everywhere, and the dashboard's period errors inside the app's layout.

Reuses the CRM/browser fixtures of test_browser.py (one CRM server for this module).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.test_browser import (  # noqa: F401  (fixtures)
    CHROMIUM,
    Session,
    ann_customer_id,
    browser,
    crm,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing"),
]
CUSTOMER = "4915123400088"
# the browser reports each 4xx answer as "Failed to load resource"; these tests cause them
EXPECTED = "Failed to load resource: the server responded with a status of 4"


@pytest.fixture(scope="module")
def ann(browser: Any, crm: dict[str, Any]) -> Iterator[Any]:  # noqa: F811
    session = Session(browser, crm, "ann@example.com")
    yield session
    session.context.close()
    unexpected = [e for e in session.errors if not e.startswith(EXPECTED)]
    assert unexpected == [], unexpected


def _chat(ann: Any, crm: dict[str, Any]) -> Any:  # noqa: F811
    crm["sandbox"].send_as_customer(CUSTOMER, "text", text="Hi, any boots?", name="Uma Ux")
    cid = ann_customer_id(crm, CUSTOMER)
    page = ann.page
    page.goto(f"/chat/{cid}")
    page.wait_for_function("() => window.htmx !== undefined")
    page.wait_for_timeout(800)  # the live stream's first refresh has come and gone
    return page


def _below(page: Any, upper: str, lower: str) -> bool:
    """The element `lower` is shown under `upper` (next to it, not somewhere else on the page)."""
    top = page.locator(upper).bounding_box()
    box = page.locator(lower).bounding_box()
    return bool(top and box and 0 <= box["y"] - (top["y"] + top["height"]) < 80)


def test_chat_form_errors_are_shown_next_to_their_fields(ann: Any, crm: dict[str, Any]) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page = _chat(ann, crm)
    page.click("#composer button[type=submit]")  # Send with an empty box
    error = page.locator("#composer-error")
    expect(error).to_contain_text("the message is empty")
    assert _below(page, "#composer-text", "#composer-error")
    page.click("#composer .attach summary")
    page.set_input_files(
        "#composer-file",
        files=[{"name": "catalogue.zip", "mimeType": "application/zip", "buffer": b"PK\x03\x04x"}],
    )
    page.click("#composer button[type=submit]")
    expect(page.locator("#composer-error")).to_contain_text("WhatsApp cannot send catalogue.zip")
    expect(page.locator("#composer .attach")).to_have_attribute("open", "")
    assert _below(page, "#composer-file", "#composer-error")
    page.fill("#composer-text", "We have boots in 38")  # the composer still works
    page.click("#composer button[type=submit]")
    expect(page.locator(".msg.outbound").last).to_contain_text("We have boots in 38")
    expect(page.locator("#composer-error")).to_have_count(0)


def test_decimal_comma_and_a_generic_error_in_the_panel(ann: Any, crm: dict[str, Any]) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page = _chat(ann, crm)
    page.click(".new-order-box summary")
    page.fill("input[aria-label='Item 1 name']", "Boots")
    page.fill("input[aria-label='Item 1 quantity']", "2")
    page.fill("input[aria-label='Item 1 price']", "1,250")  # ambiguous: refused, kept
    page.click(".new-order button[type=submit]")
    expect(page.locator("#order-error")).to_contain_text("ambiguous")
    expect(page.locator("input[aria-label='Item 1 name']")).to_have_value("Boots")
    page.fill("input[aria-label='Item 1 price']", "12,50")
    page.click(".new-order button[type=submit]")
    expect(page.locator("#customer-panel .orders-list")).to_contain_text("25.00")
    page.wait_for_timeout(1000)  # the order's live event has refreshed the panel
    # an error FastAPI raises itself (too long for the field) lands next to that field
    page.eval_on_selector("#customer-name", "el => el.removeAttribute('maxlength')")
    page.fill("#customer-name", "x" * 401)
    page.click("form.rename button[type=submit]")
    placed = page.locator("form.rename .form-error")
    expect(placed).to_contain_text("too long: write at most 400 characters")  # beside "name"
    expect(page.locator("#customer-name")).to_have_attribute("aria-invalid", "true")


def test_new_order_from_the_orders_page_and_units_everywhere(ann: Any, crm: dict[str, Any]) -> None:  # noqa: F811
    from playwright.sync_api import expect

    _chat(ann, crm)
    page = ann.page
    page.goto("/orders")
    page.click("#new-order")
    page.wait_for_url("**/orders/new")
    page.fill("#customer-search input[name=q]", "Uma")
    page.click("#customer-search button[type=submit]")
    expect(page.locator("#customer-choices")).to_contain_text("Uma Ux")
    page.click("#new-order-form button[type=submit]")  # no line yet
    expect(page.locator("#error-items")).to_be_visible()
    page.fill("#new-order-form input[aria-label='Item 1 name']", "Laces")
    page.fill("#new-order-form input[aria-label='Item 1 quantity']", "3")
    page.fill("#new-order-form input[aria-label='Item 1 price']", "2,10")
    page.fill("#new-order-form input[aria-label='Item 2 name']", "Polish")
    page.fill("#new-order-form input[aria-label='Item 2 price']", "5")
    page.click("#new-order-form button[type=submit]")
    page.wait_for_url("**/orders/*?done=created")
    expect(page.locator("#order-total")).to_contain_text("11.30")
    expect(page.locator("#order-counts")).to_contain_text("4 units in 2 lines")
    page.goto("/orders?q=uma+ux")
    rows = page.locator("#orders-table .order-row")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 1 and all("Uma Ux" in t for t in rows.all_inner_texts())
    expect(page.locator("#orders-table thead")).to_contain_text("Units")


def test_dashboard_period_errors_inside_the_layout(ann: Any, crm: dict[str, Any]) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page = ann.page
    page.goto("/dashboard?days=7")
    page.fill("input[name=from]", "2026-02-01")
    assert page.locator("select[name=days]").input_value() == "custom"  # follows the edit
    page.fill("input[name=to]", "2026-01-01")
    page.click("#dashboard-filters button[type=submit]")
    expect(page.locator("#period-error")).to_contain_text("is after To")
    expect(page.locator("header.topbar")).to_be_visible()  # inside the app's layout
    assert (
        _below(page, "input[name=to]", "#period-error")
        or page.locator("#dashboard-filters #period-error").count() == 1
    )
    page.fill("input[name=from]", "2026-01-01")
    page.fill("input[name=to]", "2026-01-10")
    page.click("#dashboard-filters button[type=submit]")
    expect(page.locator("html")).to_have_attribute("data-charts", "drawn")
    assert "days=custom" in page.url
    missing = page.goto("/chat/999999")
    assert missing is not None and missing.status == 404
    expect(page.locator("header.topbar")).to_be_visible()
    expect(page.locator("main [role=alert]")).to_contain_text("no conversation")
