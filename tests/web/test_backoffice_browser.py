"""Real-browser tests of the orders, admin and dashboard pages (Chromium via Playwright, the sandbox).

Reuses the CRM/browser fixtures of test_browser.py (one CRM server for this module).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.web.test_browser import (  # noqa: F401  (fixtures)
    CHROMIUM,
    SCREENSHOTS,
    Session,
    ann_customer_id,
    browser,
    crm,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing"),
]
CUSTOMER = "4915123400077"
WEBHOOK = Path(__file__).resolve().parents[1] / "data" / "webhooks" / "text_old_shape.json"


@pytest.fixture(scope="module")
def ann(browser: Any, crm: dict[str, Any]) -> Iterator[Any]:  # noqa: F811
    session = Session(browser, crm, "ann@example.com")
    bad: list[str] = []
    session.page.on(
        "response",
        lambda r: bad.append(f"{r.request.method} {r.url} {r.status}") if r.status >= 400 else None,
    )
    yield session
    session.context.close()
    assert session.errors == [], (session.errors, bad)


@pytest.fixture(scope="module")
def root(browser: Any, crm: dict[str, Any]) -> Iterator[Any]:  # noqa: F811
    session = Session(browser, crm, "root@example.com")
    yield session
    session.context.close()
    assert session.errors == [], session.errors


def _sql(crm: dict[str, Any], query: Any, *params: Any) -> list[dict[str, Any]]:  # noqa: F811
    with psycopg.connect(crm["url"], row_factory=dict_row, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def settle(page: Any) -> None:
    """Let the chat's live stream connect (its first 'ready' event refreshes the customer panel)."""
    page.wait_for_function("() => window.htmx !== undefined")
    page.wait_for_timeout(800)


def _buttons(page: Any) -> list[str]:
    return page.locator("#status-buttons button").evaluate_all(
        "bs => bs.map(b => b.dataset.status)"
    )


def test_order_from_the_chat_to_shipped_notifies_the_customer(
    ann: Any, crm: dict[str, Any]
) -> None:  # noqa: F811
    from playwright.sync_api import expect

    sandbox = crm["sandbox"]
    sandbox.send_as_customer(CUSTOMER, "text", text="I want two scarves", name="Olga Order")
    cid = ann_customer_id(crm, CUSTOMER)
    page = ann.page
    page.goto(f"/chat/{cid}")
    settle(page)
    page.click(".new-order-box summary")
    page.fill("input[aria-label='Item 1 name']", "Scarf")
    page.fill("input[aria-label='Item 1 quantity']", "2")
    page.fill("input[aria-label='Item 1 price']", "12.50")
    page.click(".new-order button[type=submit]")
    link = page.locator("#customer-panel .orders-list a").first
    expect(link).to_be_visible()
    link.click()
    page.wait_for_url("**/orders/*")
    expect(page.locator("#order-total")).to_contain_text("25.00")
    assert _buttons(page) == ["confirmed", "cancelled"]
    for status, nxt in (
        ("confirmed", ["processing", "cancelled"]),
        ("processing", ["shipped", "cancelled"]),
        ("shipped", ["delivered", "cancelled"]),
    ):
        page.click(f"#status-buttons button[data-status={status}]")
        expect(page.locator("#order-status")).to_have_text(status)
        assert _buttons(page) == nxt
    expect(page.locator("#order-history li")).to_have_count(4)
    expect(page.locator("#order-history")).to_contain_text("by Ann")
    order_id = page.url.split("?")[0].rstrip("/").split("/")[-1]
    deadline = time.monotonic() + 10
    texts: list[str] = []
    while time.monotonic() < deadline:
        texts = [str(m) for m in sandbox.sent_messages(to=CUSTOMER)["messages"]]
        if any(f"order #{order_id} is on its way" in t for t in texts):
            break
        time.sleep(0.2)
    assert any(f"order #{order_id} is on its way" in t for t in texts), texts


def test_items_editing_keeps_the_total_right(ann: Any, crm: dict[str, Any]) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page = ann.page
    page.goto("/orders")
    page.click("#orders-rows a")  # the newest order (shipped: its items are fixed)
    assert page.locator("#new-item-name").count() == 0
    cid = ann_customer_id(crm, CUSTOMER)
    page.goto(f"/chat/{cid}")
    settle(page)
    page.click(".new-order-box summary")
    page.fill("input[aria-label='Item 1 name']", "Hat")
    page.fill("input[aria-label='Item 1 price']", "8")
    page.click(".new-order button[type=submit]")
    expect(page.locator("#customer-panel .orders-list a")).to_have_count(2)
    page.locator("#customer-panel .orders-list a").first.click()
    page.wait_for_url("**/orders/*")
    order_url = page.url.split("?")[0]
    page.fill("#new-item-name", "Gloves")
    page.fill("#new-item-quantity", "3")
    page.fill("#new-item-price", "4.25")
    page.press("#new-item-price", "Enter")  # keyboard: Enter submits
    expect(page.locator("#order-total")).to_contain_text("20.75")
    gloves = page.locator("tr.item", has=page.locator("input[value=Gloves]"))
    gloves.locator("input[name=quantity]").fill("1")
    gloves.locator("button:has-text('Save')").click()
    expect(page.locator("#order-total")).to_contain_text("12.25")
    page.locator("tr.item").first.locator("button:has-text('Remove')").click()
    expect(page.locator("#order-total")).to_contain_text("4.25")
    expect(page.locator("tr.item")).to_have_count(1)
    page.fill("#new-item-name", "Bad")
    page.fill("#new-item-price", "-1")
    before = len(ann.errors)
    page.click("text=Add item")
    expect(page.locator(".error")).to_be_visible()
    # the refused form answers 422 (the browser logs it); nothing else may have gone wrong
    assert all("status of 422" in e for e in ann.errors[before:]), ann.errors
    del ann.errors[before:]
    expect(page.locator("#order-total")).to_contain_text("4.25")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(order_url)
    page.screenshot(path=str(SCREENSHOTS / "order.png"), full_page=True)


def test_orders_list_filters_and_csv_export(ann: Any, crm: dict[str, Any]) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page = ann.page
    page.goto("/orders")
    expect(page.locator(".order-row")).to_have_count(2)
    page.select_option("select[name=status]", "shipped")
    page.click("#order-filters button[type=submit]")
    expect(page.locator(".order-row")).to_have_count(1)
    expect(page.locator(".totals")).to_contain_text("shipped")
    with page.expect_download() as info:
        page.click("#orders-export")
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    content = Path(download.path()).read_text()
    assert "Scarf" in content and "Gloves" in content


def test_agent_cannot_open_admin_pages(browser: Any, crm: dict[str, Any]) -> None:  # noqa: F811
    session = Session(browser, crm, "ann@example.com")
    try:
        page = session.page
        assert page.locator("nav a[href='/admin']").count() == 0
        for path in ("/admin/users", "/admin/agents", "/admin/numbers", "/admin/webhooks"):
            response = page.goto(path)
            assert response is not None and response.status == 404, path
    finally:
        session.context.close()


def test_admin_creates_an_agent_and_a_whatsapp_configuration(
    root: Any, crm: dict[str, Any]
) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page = root.page
    page.goto("/admin/users")
    form = page.locator("#new-user")
    form.locator("input[name=email]").fill("cleo@example.com")
    form.locator("input[name=name]").fill("Cleo")
    form.locator("input[name=password]").fill("a long enough password 1")
    form.locator("input[name=with_agent]").uncheck()
    form.locator("button[type=submit]").click()
    expect(page.locator(".notice")).to_contain_text("User created")
    page.goto("/admin/agents")
    page.select_option("#new-agent-user", label="Cleo (cleo@example.com)")
    page.click("#new-agent button[type=submit]")
    expect(page.locator(".notice")).to_contain_text("Agent created")
    row = page.locator(
        "#agents-table tr", has=page.locator("option[selected]:has-text('cleo@example.com')")
    )
    expect(row).to_have_count(1)
    number = crm["sandbox"].register_number(
        phone_number_id="106540352249999",
        display_phone_number="15550002222",
        waba_id="102290129349999",
        access_token="sandbox-access-token-cleo",
        app_secret="sandbox-app-secret-cleo",
        webhook_url=f"{crm['base']}/webhooks/whatsapp",
    )
    page.goto("/admin/numbers")
    new = page.locator("section:has(#new-number-h) form")
    new.locator("select[name=user_id]").select_option(label="Cleo (cleo@example.com)")
    new.locator("input[name=whatsapp_number]").fill(number["display_phone_number"])
    new.locator("input[name=phone_number_id]").fill(number["phone_number_id"])
    new.locator("input[name=business_account_id]").fill(number["waba_id"])
    new.locator("input[name=access_token]").fill(number["access_token"])
    new.locator("input[name=app_secret]").fill(number["app_secret"])
    new.locator("input[name=verify_token]").fill("cleo-verify-token")
    new.locator("button[type=submit]").click()
    expect(page.locator(".notice")).to_contain_text("configuration saved")
    expect(page.locator("#webhook-url")).to_have_text(f"{crm['base']}/webhooks/whatsapp")
    card = page.locator("section.config", has_text="cleo@example.com")
    expect(card.locator(".verify-token")).to_have_text("cleo-verify-token")
    expect(card.locator(".warning")).to_contain_text("No webhook has arrived")
    assert number["access_token"] not in page.content()
    card.locator("button:has-text('Test connection')").click()
    expect(page.locator("#test-result")).to_contain_text("Meta answered")
    expect(page.locator("#test-result")).to_contain_text(number["phone_number_id"])


def test_failed_webhook_is_replayed_from_the_page(root: Any, crm: dict[str, Any]) -> None:  # noqa: F811
    from playwright.sync_api import expect

    body = WEBHOOK.read_bytes().replace(b"wamid.TEXT_OLD_1", b"wamid.BROWSER_REPLAY_1")
    jid = _sql(
        crm,
        "INSERT INTO webhook_journal (phone_number_id, body, status, error, attempts)"
        " VALUES ('106540352242922', %s, 'failed', 'database was down', 1) RETURNING id",
        body,
    )[0]["id"]
    page = root.page
    page.goto("/admin/webhooks")
    entry = page.locator(f"[data-journal-id='{jid}']")
    expect(entry).to_contain_text("database was down")
    entry.locator("summary").click()
    expect(entry.locator("pre.payload")).to_contain_text("BROWSER_REPLAY_1")
    entry.locator("button:has-text('Replay')").click()
    expect(page.locator(".notice")).to_contain_text("Webhook processed")
    expect(page.locator(f"[data-journal-id='{jid}']")).to_have_count(0)
    assert (
        _sql(crm, "SELECT status FROM webhook_journal WHERE id = %s", jid)[0]["status"]
        == "processed"
    )
    ann_customer_id(crm, "4915123456789")  # the replayed message made its customer


def test_dashboard_draws_charts_on_every_screen(
    root: Any, ann: Any, browser: Any, crm: dict[str, Any]
) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page = ann.page
    page.goto("/dashboard?days=7")
    expect(page.locator("html")).to_have_attribute("data-charts", "drawn")
    assert page.locator("canvas").count() == 4
    assert int(page.locator("#stat-in").inner_text()) >= 1
    assert int(page.locator("#stat-orders").inner_text()) == 2
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
    admin = root.page
    admin.goto("/dashboard")
    admin.select_option("select[name=agents]", "all")
    admin.click("#dashboard-filters button[type=submit]")
    expect(admin.locator("h1")).to_contain_text("all agents")
    expect(admin.locator("html")).to_have_attribute("data-charts", "drawn")
    phone = Session(browser, crm, "root@example.com", mobile=True)
    try:
        for path in (
            "/orders",
            "/orders/1",
            "/dashboard",
            "/admin/users",
            "/admin/agents",
            "/admin/numbers",
            "/admin/webhooks?status=",
        ):
            response = phone.page.goto(path)
            assert response is not None and response.status == 200, path
            width = phone.page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390, f"{path} is {width}px wide on a 390px screen"
    finally:
        phone.context.close()
    assert phone.errors == [], phone.errors
