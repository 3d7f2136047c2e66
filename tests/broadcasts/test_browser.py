"""Real-browser tests of the import, broadcast and outgoing-webhook pages (Chromium, the sandbox,
the CRM served with its worker): import with errors skipped and live progress, a broadcast
composed, previewed, sent and watched until WhatsApp's statuses come back; 360 px wide."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.web.test_browser import CHROMIUM, Session, browser, crm  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing"),
]
CSV = "Name;Mobile;Opt-in\nIda Import;0151 2345 0101;yes\nIgor Import;0151 2345 0102;\nBroken;12;\n"


@pytest.fixture(scope="module")
def ann(browser: Any, crm: dict[str, Any]) -> Iterator[Any]:  # noqa: F811
    session = Session(browser, crm, "ann@example.com")
    yield session
    session.context.close()
    assert _unexpected(session.errors) == [], session.errors


def _unexpected(errors: list[str]) -> list[str]:
    """Console errors, less the 422 answers of forms refused on purpose here."""
    return [e for e in errors if "status of 422" not in e]


def _no_sideways_scroll(page: Any) -> None:
    page.set_viewport_size({"width": 360, "height": 760})
    assert page.evaluate("document.documentElement.scrollWidth") <= 362
    page.set_viewport_size({"width": 1280, "height": 860})


def test_import_page(ann: Any, crm: dict[str, Any], tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect

    path = tmp_path / "people.csv"
    path.write_text(CSV)
    page = ann.page
    page.goto("/customers/import")
    page.set_input_files("input[name=file]", str(path))
    page.select_option("select[name=country]", "DE")
    page.click("#import-form button[type=submit]")
    page.wait_for_url("**/customers/import/*")
    expect(page.locator("#import-errors")).to_contain_text("not a valid phone number")
    expect(page.locator("#import-preview")).to_contain_text("+4915123450101")
    _no_sideways_scroll(page)
    page.click("#start-import button[type=submit]")  # refused: a row has an error
    expect(page.locator(".field-error")).to_contain_text("1 rows have errors")
    page.check("input[name=skip_invalid]")
    page.click("#start-import button[type=submit]")
    expect(page.locator("#import-done")).to_contain_text("2 new customers", timeout=30_000)
    with psycopg.connect(crm["url"], row_factory=dict_row, autocommit=True) as conn:
        prefix = crm["ann"]["agent"]["agent_prefix"]
        rows = conn.execute(
            psycopg.sql.SQL(
                "SELECT phone, opted_in FROM {} WHERE name LIKE 'I%% Import' ORDER BY phone"
            ).format(psycopg.sql.Identifier(prefix + "_customers"))
        ).fetchall()
    assert rows == [
        {"phone": "+4915123450101", "opted_in": True},
        {"phone": "+4915123450102", "opted_in": None},
    ]


def test_broadcast_page(ann: Any, crm: dict[str, Any]) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page = ann.page
    page.goto("/broadcasts")
    page.fill("input[name=name]", "Browser promo")
    page.select_option("select[name=template]", "we_miss_you|en_US")
    expect(page.locator("input[name=params]")).to_have_count(2)
    page.locator("input[name=params]").nth(0).fill("{first_name}")
    page.locator("input[name=params]").nth(1).fill("15%")
    page.check("input[name=opted_in_only]")
    page.click("text=Preview")
    expect(page.locator("#preview")).to_contain_text("1 customer will receive it.")
    expect(page.locator("#preview")).to_contain_text("Hi Ida, it has been a while! Here is 15% off")
    _no_sideways_scroll(page)
    page.click("#compose button[type=submit]")
    page.wait_for_url("**/broadcasts/*")
    expect(page.locator('[data-counter="sent"]')).to_have_text("1", timeout=30_000)
    expect(page.locator('[data-counter="delivered"]')).to_have_text("1", timeout=30_000)
    sent = crm["sandbox"].sent_messages(to="4915123450101")["messages"]
    assert [m["request"]["template"]["components"][0]["parameters"][0]["text"] for m in sent] == [
        "Ida"
    ]
    _no_sideways_scroll(page)


def test_outgoing_webhooks_admin_page(browser: Any, crm: dict[str, Any]) -> None:  # noqa: F811
    from playwright.sync_api import expect

    root = Session(browser, crm, "root@example.com")
    page = root.page
    page.goto("/admin/integrations")
    page.select_option("#new-endpoint select[name=agent_id]", str(crm["ann"]["agent"]["id"]))
    page.fill("#new-endpoint input[name=url]", "http://shop.example.com/hook")
    page.click("#new-endpoint button[type=submit]")
    expect(page.locator("#new-endpoint .field-error")).to_contain_text(
        "endpoints must use https://"
    )
    page.fill("#new-endpoint input[name=url]", "https://shop.example.com/hook")
    page.click("#new-endpoint button[type=submit]")
    expect(page.locator("#endpoint-secret")).to_contain_text("whsec_")
    _no_sideways_scroll(page)
    root.context.close()
    assert _unexpected(root.errors) == []


def test_templates_page_live_status(ann: Any, crm: dict[str, Any]) -> None:  # noqa: F811
    """Created in the page, reviewed by the sandbox, approved or rejected by Meta's webhook, live."""
    import httpx
    from playwright.sync_api import expect

    httpx.post(
        crm["sandbox"].base_url + "/sandbox/templates/reject",
        json={"name": "too_pushy", "reason": "PROMOTIONAL"},
        timeout=10,
    )
    page = ann.page
    page.goto("/templates")
    expect(page.locator('[data-template="hello_world|en_US"]')).to_be_visible()
    form = page.locator("#template-form")
    form.locator("input[name=name]").fill("order_ready")
    form.locator("textarea[name=body]").fill("{{1}}, your order is ready.")
    form.locator("button[type=submit]").click()
    expect(form.locator(".field-error")).to_contain_text("very start or end")
    form.locator("textarea[name=body]").fill("Hi {{1}}, your order is ready.")
    form.locator("textarea[name=body_examples]").fill("Ana")
    form.locator("button[type=submit]").click()
    row = page.locator('[data-template="order_ready|en_US"]')
    expect(row).to_have_attribute("data-status", "APPROVED", timeout=30_000)
    form = page.locator("#template-form")
    form.locator("input[name=name]").fill("too_pushy")
    form.locator("textarea[name=body]").fill("Hi {{1}}, buy now.")
    form.locator("textarea[name=body_examples]").fill("Ana")
    form.locator("button[type=submit]").click()
    rejected = page.locator('[data-template="too_pushy|en_US"]')
    expect(rejected).to_have_attribute("data-status", "REJECTED", timeout=30_000)
    expect(rejected.locator(".rejected-reason")).to_contain_text("promotional content")
    _no_sideways_scroll(page)
