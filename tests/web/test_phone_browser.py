"""Issue 17 in a real browser (Chromium via Playwright, the sandbox): every page at 390×844 with long
content fits the screen, touch targets, the customer panel as its own view and the back button,
the viewer's time zone and language, the live tab title and the installable app.

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

from tests.web.conftest import PASSWORD
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    CHROMIUM,
    LIVE_TIMEOUT_MS,
    SCREENSHOTS,
    ann_customer_id,
    browser,
    crm,
    run_async,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing"),
]
PHONE = {"width": 390, "height": 844}
LONG_NAME = "Maximiliana Konstantinopoulou-Rodríguez de la Santísima Trinidad"
LONG_URL = "https://shop.example.com/catalogue/" + "very-long-product-slug-" * 12 + "?ref=whatsapp"
CUSTOMER_A = "5511987650001"
CUSTOMER_B = "5511987650002"

# Every visible element wider than the viewport or sticking out of it (the skip link is parked
# off-screen on purpose until it gets the focus).
OVERFLOW_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const bad = [];
  if (document.documentElement.scrollWidth > width) {
    const wide = [...document.querySelectorAll("body *")]
      .filter(e => e.getBoundingClientRect().right > width + 1)
      .map(e => e.tagName.toLowerCase() + "." + String(e.className));
    bad.push("document " + document.documentElement.scrollWidth + " > " + width + " " + wide.slice(0, 5));
  }
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest(".skip, [hidden], template, dialog:not([open])")) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none") continue;
    if (r.left < -1 || r.right > width + 1) {
      bad.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + "." +
        String(el.className).replace(/ /g, ".") + " " + Math.round(r.left) + ".." + Math.round(r.right));
    }
  }
  // text that overflows its box (a long word or number) sticks out even when the box does not
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || !node.textContent.trim() || parent.closest(".skip, [hidden], template, dialog:not([open]), script, style")) continue;
    let clipped = false;  // an ancestor that clips (ellipsis) or scrolls keeps it inside itself
    for (let a = parent; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== "visible") { clipped = true; break; }
    }
    if (clipped) continue;
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) {
      if (r.width > 0 && (r.right > width + 1 || r.left < -1)) {
        bad.push("text '" + node.textContent.trim().slice(0, 30) + "' " + Math.round(r.left) + ".." + Math.round(r.right));
        break;
      }
    }
  }
  return bad.slice(0, 12);
}
"""
# Controls smaller than 44 px high (WCAG 2.5.5), ignoring hidden ones and text links in prose.
SMALL_TARGETS_JS = """
() => {
  const bad = [];
  const controls = document.querySelectorAll(
    "button, .button, select, textarea, summary, input:not([type=hidden]):not([type=checkbox]):not([type=radio]), nav a, .account a, .chat-head a, .panel-head a, label:has(> input[type=checkbox])");
  for (const el of controls) {
    if (el.closest("[hidden], dialog:not([open]), .skip, details:not([open]) > :not(summary)")) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (getComputedStyle(el).visibility === "hidden") continue;
    if (r.height < 43.5) bad.push((el.id || el.tagName.toLowerCase() + "." + el.className) + " " + r.height);
  }
  return bad.slice(0, 12);
}
"""


def _sql(crm: dict[str, Any], query: Any, *params: Any) -> list[dict[str, Any]]:  # noqa: F811
    with psycopg.connect(crm["url"], row_factory=dict_row, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


class Phone:
    """A signed-in browser context with a phone's screen (and optionally a zone and language)."""

    def __init__(
        self,
        browser: Any,  # noqa: F811
        crm: dict[str, Any],  # noqa: F811
        email: str,
        *,
        timezone_id: str = "UTC",
        locale: str = "en-US",
        viewport: dict[str, int] | None = None,
    ) -> None:
        self.context = browser.new_context(
            base_url=crm["base"],
            viewport=viewport or PHONE,
            timezone_id=timezone_id,
            locale=locale,
            has_touch=True,
            is_mobile=True,
        )
        self.context.set_default_timeout(LIVE_TIMEOUT_MS)
        self.errors: list[str] = []
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto("/login")
        self.page.fill("#email", email)
        self.page.fill("#password", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url("**/inbox")

    def check_fits(self, name: str) -> None:
        page = self.page
        page.wait_for_load_state("load")
        page.wait_for_timeout(150)
        assert page.evaluate(OVERFLOW_JS) == [], f"{name}: elements beyond the screen"
        assert page.evaluate(SMALL_TARGETS_JS) == [], f"{name}: touch targets under 44 px"

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def long_content(crm: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    """Customers, messages (a long URL, a quoted reply) and an order with long texts."""
    sandbox = crm["sandbox"]
    first = sandbox.send_as_customer(
        CUSTOMER_A,
        "text",
        text="Hello! I saw this on your site: " + LONG_URL + " — do you have it in blue?",
        name=LONG_NAME,
    )
    wamid = first["messages"][0]["id"] if "messages" in first else first.get("wamid")
    sandbox.send_as_customer(
        CUSTOMER_A,
        "text",
        text="Replying to myself with a long word: " + "Donaudampfschifffahrtsgesellschaft" * 3,
        name=LONG_NAME,
        context_message_id=wamid,
    )
    cid = ann_customer_id(crm, CUSTOMER_A)

    async def order() -> int:
        from wacrm.agents.tables import AgentTables
        from wacrm.orders import service as orders

        agent = crm["ann"]["agent"]
        tables = AgentTables(agent["id"], agent["agent_prefix"])
        async with await psycopg.AsyncConnection.connect(
            crm["url"], row_factory=dict_row, autocommit=True
        ) as conn:
            row = await orders.create_order(
                conn,
                tables=tables,
                customer_id=cid,
                items=[
                    {
                        "name": "Handmade embroidered linen tablecloth, " * 4,
                        "quantity": 12,
                        "price": "1234567.89",
                    },
                    {"name": "Scarf", "quantity": 1, "price": "9.90"},
                ],
                currency="BRL",
                notes="Deliver after 6 pm; " + LONG_URL,
                shipping_address=LONG_NAME + ", Avenida Brigadeiro Faria Lima 1234, São Paulo",
            )
            return int(row["id"])

    return {"customer_id": cid, "order_id": run_async(order), "wamid": wamid}


@pytest.fixture(scope="module")
def ann_phone(browser: Any, crm: dict[str, Any], long_content: Any) -> Iterator[Phone]:  # noqa: F811
    phone = Phone(browser, crm, "ann@example.com")
    yield phone
    phone.close()
    assert phone.errors == [], phone.errors


def test_every_page_fits_a_phone(
    ann_phone: Phone,
    browser: Any,  # noqa: F811
    crm: dict[str, Any],  # noqa: F811
    long_content: dict[str, Any],
) -> None:
    from playwright.sync_api import expect

    page = ann_phone.page
    cid, oid = long_content["customer_id"], long_content["order_id"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, path in (
        ("inbox", "/inbox"),
        ("chat", f"/chat/{cid}"),
        ("orders", "/orders"),
        ("order", f"/orders/{oid}"),
        ("dashboard", "/dashboard"),
        ("preferences", "/account/preferences"),
        ("password", "/account/password"),
    ):
        page.goto(path)
        ann_phone.check_fits(name)
        page.screenshot(path=str(SCREENSHOTS / f"phone-{name}.png"))
    # the chat: the composer and Send are on screen, long URLs and quotes wrap inside bubbles
    page.goto(f"/chat/{cid}")
    send = page.locator("#composer button[type=submit]")
    expect(send).to_be_in_viewport()
    box = send.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"]
    expect(page.locator(".quote").first).to_be_visible()
    # the customer panel is a view of its own; the back button returns to the chat
    page.click(".customer-link")
    expect(page.locator("#customer-panel")).to_be_visible()
    ann_phone.check_fits("customer panel")
    page.screenshot(path=str(SCREENSHOTS / "phone-customer.png"))
    page.go_back()
    expect(page.locator("#customer-panel")).to_be_hidden()
    expect(page.locator("#composer-text")).to_be_visible()
    # inbox → chat → back
    page.goto("/inbox")
    page.locator(f"#c-{cid} a").click()
    page.wait_for_url(f"**/chat/{cid}")
    page.go_back()
    page.wait_for_url("**/inbox")
    expect(page.locator(f"#c-{cid}")).to_be_visible()
    # the sign-in page and the admin pages, for an admin
    anonymous = browser.new_context(base_url=crm["base"], viewport=PHONE)
    login = anonymous.new_page()
    login.goto("/login")
    assert login.evaluate(OVERFLOW_JS) == []
    login.screenshot(path=str(SCREENSHOTS / "phone-login.png"))
    anonymous.close()
    root = Phone(browser, crm, "root@example.com")
    for name, path in (
        ("admin users", "/admin/users"),
        ("admin agents", "/admin/agents"),
        ("admin numbers", "/admin/numbers"),
        ("admin webhooks", "/admin/webhooks"),
    ):
        root.page.goto(path)
        root.check_fits(name)
    root.close()
    assert root.errors == [], root.errors


@pytest.mark.parametrize("width", [360, 414])
def test_chat_and_order_fit_the_narrowest_and_widest_phones(
    browser: Any,  # noqa: F811
    crm: dict[str, Any],  # noqa: F811
    long_content: dict[str, Any],
    width: int,
) -> None:
    phone = Phone(browser, crm, "ann@example.com", viewport={"width": width, "height": 740})
    for name, path in (
        ("inbox", "/inbox"),
        ("chat", f"/chat/{long_content['customer_id']}"),
        ("order", f"/orders/{long_content['order_id']}"),
    ):
        phone.page.goto(path)
        phone.check_fits(f"{name} at {width}px")
    phone.close()
    assert phone.errors == [], phone.errors


def test_sao_paulo_browser_sees_local_times_and_portuguese(
    browser: Any,  # noqa: F811
    crm: dict[str, Any],  # noqa: F811
    long_content: dict[str, Any],
) -> None:
    cid = long_content["customer_id"]
    rows = _sql(
        crm,
        psycopg.sql.SQL(
            'SELECT "timestamp" FROM {} WHERE customer_id = %s ORDER BY id LIMIT 1'
        ).format(psycopg.sql.Identifier(crm["ann"]["agent"]["agent_prefix"] + "_messages")),
        cid,
    )
    from zoneinfo import ZoneInfo

    from babel.dates import format_time

    at = rows[0]["timestamp"]
    local = format_time(at, "short", tzinfo=ZoneInfo("America/Sao_Paulo"), locale="en")
    utc = format_time(at, "short", tzinfo=ZoneInfo("UTC"), locale="en")
    phone = Phone(browser, crm, "bea@example.com", timezone_id="America/Sao_Paulo", locale="pt-BR")
    page = phone.page
    # Bea's browser says pt-BR: Portuguese without choosing anything
    assert page.locator("html").get_attribute("lang") == "pt-BR"
    assert "Caixa de entrada" in page.locator("nav").inner_text()
    phone.close()
    phone = Phone(browser, crm, "ann@example.com", timezone_id="America/Sao_Paulo")
    page = phone.page
    page.goto(f"/chat/{cid}")
    first_time = page.locator("#thread .msg time").first.inner_text()
    assert first_time == local, (first_time, local, utc)
    assert page.locator("body").get_attribute("data-tz") == "America/Sao_Paulo"
    phone.close()
    assert phone.errors == [], phone.errors


def test_tab_title_counts_unread_conversations_live(
    browser: Any,  # noqa: F811
    crm: dict[str, Any],  # noqa: F811
    long_content: dict[str, Any],
) -> None:
    phone = Phone(browser, crm, "ann@example.com", viewport={"width": 1280, "height": 860})
    page = phone.page
    cid = long_content["customer_id"]
    page.goto(f"/chat/{cid}")  # reading this chat leaves the other conversations unread
    page.wait_for_function("() => window.htmx !== undefined")
    page.wait_for_function("() => !document.title.startsWith('(') || true")
    page.wait_for_timeout(800)  # the live stream is open
    before = page.title()
    unread_before = int(page.locator("body").get_attribute("data-unread") or "0")
    crm["sandbox"].send_as_customer(CUSTOMER_B, "text", text="Is the shop open?", name="Bruno")
    page.wait_for_function(
        "n => Number(document.body.getAttribute('data-unread') || 0) > n", arg=unread_before
    )
    after = page.title()
    assert after != before
    assert after.startswith(f"({unread_before + 1}) "), after
    page.wait_for_function(  # the badge is drawn once the icon image has loaded
        "() => document.getElementById('favicon').getAttribute('href').startsWith('data:image/png')"
    )
    phone.close()
    assert phone.errors == [], phone.errors


def test_manifest_and_service_worker_in_the_browser(
    browser: Any,  # noqa: F811
    crm: dict[str, Any],  # noqa: F811
) -> None:
    phone = Phone(browser, crm, "ann@example.com")
    page = phone.page
    manifest = page.evaluate(
        "() => fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())"
    )
    assert manifest["display"] == "standalone"
    for icon in manifest["icons"]:
        size = page.evaluate(
            "src => new Promise(ok => { const i = new Image(); i.onload = () => ok([i.naturalWidth, i.naturalHeight]);"
            " i.onerror = () => ok(null); i.src = src; })",
            icon["src"],
        )
        assert size is not None, icon
        if icon["sizes"] != "any":
            assert f"{size[0]}x{size[1]}" == icon["sizes"], icon
    scope = page.evaluate("() => navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope == crm["base"] + "/"
    deadline = time.monotonic() + 10
    cached: list[str] = []
    while time.monotonic() < deadline:
        cached = page.evaluate(
            "() => caches.keys().then(ks => Promise.all(ks.map(k => caches.open(k)"
            ".then(c => c.keys())))).then(all => all.flat().map(r => new URL(r.url).pathname))"
        )
        if "/static/app.js" in cached:
            break
        time.sleep(0.2)
    assert "/static/app.js" in cached
    page.goto("/inbox")
    page.wait_for_timeout(300)
    cached = page.evaluate(
        "() => caches.keys().then(ks => Promise.all(ks.map(k => caches.open(k)"
        ".then(c => c.keys())))).then(all => all.flat().map(r => new URL(r.url).pathname))"
    )
    assert all(path.startswith("/static/") for path in cached), cached
    phone.close()
    assert phone.errors == [], phone.errors
