"""Real-browser tests (Chromium via Playwright) against a running CRM wired to the WhatsApp sandbox.

One CRM server, one database and one browser for the whole module; messages really flow:
sandbox customer → signed webhook → CRM → NOTIFY → SSE → page, and page → queue → worker →
sandbox Graph API → status webhooks → ticks.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from tests.conftest import _admin_exec, with_dbname
from tests.helpers import configure_sandbox_number
from tests.sandbox_fixture import DEFAULT_NUMBER
from tests.web.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
# The README's screenshots are refreshed only on request (`WACRM_SCREENSHOTS=1 make test`), so that
# a test run leaves the working tree clean; otherwise they go to a temporary folder.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("WACRM_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "wacrm-screenshots"
)
CUSTOMER = "4915123400001"
LIVE_TIMEOUT_MS = 10_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason=f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (make test does)",
    ),
]


def run_async(coro_fn: Any) -> Any:
    """Run async set-up code to completion in a thread of its own (no event loop clash)."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coro_fn())
        except BaseException as exc:  # handed back to the caller
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


@pytest.fixture(scope="module")
def crm(
    pg_server_url: str, template_url: str, _sandbox_server: Any, tmp_path_factory: Any
) -> Iterator[dict[str, Any]]:
    """A migrated database, users, a number in the sandbox and the CRM serving on loopback."""
    from wacrm.config import Settings, get_settings
    from wacrm.outbound import limiter
    from wacrm.sandbox.server import ThreadedServer, free_port

    name = f"wacrm_web_{uuid.uuid4().hex[:10]}"
    template = conninfo_to_dict(template_url)["dbname"]
    _admin_exec(pg_server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = with_dbname(pg_server_url, name)
    sandbox = _sandbox_server
    sandbox.reset()
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    async def setup() -> dict[str, Any]:
        from wacrm.accounts.service import create_user
        from wacrm.agents.service import create_agent

        async with await psycopg.AsyncConnection.connect(
            url, row_factory=dict_row, autocommit=True
        ) as conn:
            admin = await create_user(
                conn, email="root@example.com", name="Root", role="admin", password=PASSWORD
            )
            out: dict[str, Any] = {"admin": admin}
            for key, email in (("ann", "ann@example.com"), ("bea", "bea@example.com")):
                user = await create_user(
                    conn, email=email, name=key.title(), role="agent", password=PASSWORD
                )
                agent = await create_agent(conn, created_by=admin["id"], user_id=user["id"])
                out[key] = {"user": user, "agent": agent}
            await configure_sandbox_number(conn, out["ann"]["user"]["id"], DEFAULT_NUMBER)
            # Bea has more customers than Ann, so her ids do not exist in Ann's tables.
            from wacrm.agents.tables import AgentTables

            bea = out["bea"]["agent"]
            tables = AgentTables(bea["id"], bea["agent_prefix"])
            for n in range(5):
                cur = await conn.execute(
                    tables.query(
                        "INSERT INTO {customers} (name, phone) VALUES (%s, %s) RETURNING id"
                    ),
                    (f"Bea customer {n}", f"+4915199900{n:03d}"),
                )
                out["bea_customer"] = (await cur.fetchone())["id"]
            return out

    people = run_async(setup)
    sandbox.register_number(webhook_url=f"{base}/webhooks/whatsapp")
    env = {"WHATSAPP_API_BASE_URL": sandbox.base_url}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        mp.setattr(limiter, "PAIR_RATE", 20.0)
        get_settings.cache_clear()
        settings = Settings(
            WACRM_ENV="test",
            WACRM_DATA_DIR=tmp_path_factory.mktemp("crm"),
            WACRM_SECRET_KEY="test-secret-key-0123456789-abcdefghijklmnop",
            WACRM_RUN_WORKER=True,
            WACRM_PUBLIC_URL=base,
            WACRM_DB_POOL_SIZE=8,
            WHATSAPP_API_BASE_URL=sandbox.base_url,
        )
        from wacrm.app import create_app

        app = create_app(settings, database_url=url)
        with ThreadedServer(app, port=port):
            yield {"base": base, "url": url, "sandbox": sandbox, **people}
        get_settings.cache_clear()
    sandbox.reset()
    _admin_exec(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


class Session:
    """A browser context signed in as one user, collecting console errors of every page."""

    def __init__(
        self, browser: Any, crm: dict[str, Any], email: str, *, mobile: bool = False
    ) -> None:
        size = {"width": 390, "height": 800} if mobile else {"width": 1280, "height": 860}
        self.context = browser.new_context(base_url=crm["base"], viewport=size)
        self.context.set_default_timeout(LIVE_TIMEOUT_MS)
        self.errors: list[str] = []
        self.page = self.new_page()
        self.page.goto("/login")
        self.page.fill("#email", email)
        self.page.fill("#password", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url("**/inbox")

    def new_page(self) -> Any:
        page = self.context.new_page()
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        return page


@pytest.fixture(scope="module")
def ann(browser: Any, crm: dict[str, Any]) -> Iterator[Session]:
    session = Session(browser, crm, "ann@example.com")
    yield session
    session.context.close()


def db(crm: dict[str, Any], query: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(crm["url"], row_factory=dict_row, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def ann_customer_id(crm: dict[str, Any], phone_digits: str) -> int:
    prefix = crm["ann"]["agent"]["agent_prefix"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with psycopg.connect(crm["url"], row_factory=dict_row, autocommit=True) as conn:
            row = conn.execute(
                psycopg.sql.SQL("SELECT id FROM {} WHERE phone LIKE %s").format(
                    psycopg.sql.Identifier(f"{prefix}_customers")
                ),
                (f"%{phone_digits}",),
            ).fetchone()
        if row:
            return int(row["id"])
        time.sleep(0.05)
    raise AssertionError(f"no customer {phone_digits} arrived")


def test_messages_appear_live_in_the_inbox(ann: Session, crm: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    page = ann.page
    page.goto("/inbox")
    page.wait_for_function("() => window.htmx !== undefined")
    page.wait_for_timeout(300)  # the SSE stream is open
    sandbox = crm["sandbox"]
    started = time.monotonic()
    sandbox.send_as_customer(
        CUSTOMER, "text", text="Hello, do you have red shoes?", name="Greta Live"
    )
    expect(page.locator(".conversation").first).to_contain_text("Hello, do you have red shoes?")
    live_seconds = time.monotonic() - started
    expect(page.locator(".conversation").first).to_contain_text("Greta Live")
    expect(page.locator(".conversation").first.locator(".badge")).to_have_text("1")
    assert live_seconds < 3, f"the message took {live_seconds:.2f}s to appear"

    sandbox.send_as_customer("4915123400002", "text", text="Second customer here", name="Hugo")
    expect(page.locator(".conversation").first).to_contain_text("Hugo")
    time.sleep(1.1)  # WhatsApp timestamps have whole seconds: make Greta's next message later
    sandbox.send_as_customer(CUSTOMER, "image", text="This one", name="Greta Live")
    expect(page.locator(".conversation").first).to_contain_text("Greta Live")
    expect(page.locator(".conversation").first).to_contain_text("📷")
    sandbox.send_as_customer(CUSTOMER, "order", name="Greta Live")
    expect(page.locator(".conversation").first).to_contain_text("🛒 Order of")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "inbox.png"))


def test_chat_shows_types_and_reply_ticks_reach_read(ann: Session, crm: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    cid = ann_customer_id(crm, CUSTOMER)
    page = ann.page
    page.goto(f"/chat/{cid}")
    expect(page.locator("#thread")).to_contain_text("Hello, do you have red shoes?")
    expect(page.locator(".order-card")).to_contain_text("Order")
    expect(
        page.locator(".msg.inbound img.media, .msg.inbound .text:has-text('📷')").first
    ).to_be_visible()
    box = page.locator("#composer-text")
    box.fill("Yes, size 38")
    box.press("Shift+Enter")
    box.type("and 39")
    assert box.input_value() == "Yes, size 38\nand 39"
    box.press("Enter")
    bubble = page.locator(".msg.outbound").last
    expect(bubble).to_contain_text("Yes, size 38")
    expect(bubble.locator(".tick")).to_have_attribute("data-tick", "read")
    expect(page.locator("#composer-text")).to_have_value("")
    sent = crm["sandbox"].sent_messages(to=CUSTOMER)["messages"]
    assert any("Yes, size 38" in str(m) and "and 39" in str(m) for m in sent)
    # a live message arrives in the open chat; the thread does not jump
    crm["sandbox"].send_as_customer(CUSTOMER, "location", name="Greta Live")
    expect(page.locator("#thread")).to_contain_text("📍")
    expect(page.locator("#thread a:has-text('Open map')").last).to_be_visible()
    # the customer panel follows live too: 3 messages at load, the reply, the location
    expect(page.locator("#message-count")).to_have_text("5")
    page.screenshot(path=str(SCREENSHOTS / "chat.png"))


def unread_of(crm: dict[str, Any], customer_id: int) -> int:
    prefix = crm["ann"]["agent"]["agent_prefix"]
    query = psycopg.sql.SQL("SELECT unread_count FROM {} WHERE id = %s").format(
        psycopg.sql.Identifier(f"{prefix}_customers")
    )
    with psycopg.connect(crm["url"], row_factory=dict_row, autocommit=True) as conn:
        row = conn.execute(query, (customer_id,)).fetchone()
    return int(row["unread_count"])


def wait_for_unread(crm: dict[str, Any], customer_id: int, expected: int) -> None:
    deadline = time.monotonic() + LIVE_TIMEOUT_MS / 1000
    while unread_of(crm, customer_id) != expected:
        assert time.monotonic() < deadline, f"unread stayed {unread_of(crm, customer_id)}"
        time.sleep(0.05)


def test_a_seen_chat_is_read_by_the_pages_post_not_by_the_get(
    ann: Session, crm: dict[str, Any]
) -> None:
    """Issue 13 item 4: a GET (any site's link) leaves the chat unread; the page posts the read
    once it is shown and focused, and again when a message arrives while it is open."""
    phone = "4915123400031"
    crm["sandbox"].send_as_customer(phone, "text", text="Are you there?", name="Ida Read")
    cid = ann_customer_id(crm, phone)
    wait_for_unread(crm, cid, 1)
    assert ann.context.request.get(f"/chat/{cid}").status == 200  # a navigation without the page
    time.sleep(0.3)
    assert unread_of(crm, cid) == 1
    page = ann.page
    page.goto(f"/chat/{cid}")
    page.bring_to_front()
    wait_for_unread(crm, cid, 0)
    page.wait_for_timeout(300)  # the SSE stream is open
    crm["sandbox"].send_as_customer(phone, "text", text="Hello again", name="Ida Read")
    from playwright.sync_api import expect

    expect(page.locator("#thread")).to_contain_text("Hello again")
    wait_for_unread(crm, cid, 0)


def test_closed_window_forces_a_template(ann: Session, crm: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    prefix = crm["ann"]["agent"]["agent_prefix"]
    with psycopg.connect(crm["url"], row_factory=dict_row, autocommit=True) as conn:
        row = conn.execute(
            psycopg.sql.SQL(
                "INSERT INTO {} (name, phone, last_inbound_at, last_message_at) "
                "VALUES ('Old Otto', '+4915123400009', now() - interval '30 hours', now() - interval '30 hours') RETURNING id"
            ).format(psycopg.sql.Identifier(f"{prefix}_customers"))
        ).fetchone()
    page = ann.page
    page.goto(f"/chat/{row['id']}")
    expect(page.locator(".window-closed")).to_be_visible()
    assert page.locator("#composer-text").count() == 0
    select = page.locator("#template-name")
    expect(select).to_be_visible()
    select.select_option(index=0)
    params = page.locator("input[data-param-index]:enabled")
    for i in range(params.count()):
        params.nth(i).fill(f"value {i + 1}")
    page.click("text=Send template")
    expect(page.locator(".msg.outbound").last.locator(".tick")).to_have_attribute(
        "data-tick", re.compile("^(delivered|read)$")
    )


def test_agent_cannot_open_another_agents_chat(browser: Any, crm: dict[str, Any]) -> None:
    session = Session(browser, crm, "ann@example.com")
    try:
        response = session.page.goto(f"/chat/{crm['bea_customer']}")
        assert response is not None and response.status == 404
    finally:
        session.context.close()


def test_script_in_a_message_is_shown_as_text(ann: Session, crm: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    evil = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    crm["sandbox"].send_as_customer(CUSTOMER, "text", text=evil, name="Greta Live")
    page = ann.page
    page.goto(f"/chat/{ann_customer_id(crm, CUSTOMER)}")
    expect(page.locator("#thread")).to_contain_text("<script>window.__pwned = 1</script>")
    page.goto("/inbox")
    expect(page.locator(".conversation").first).to_contain_text("<script>")
    assert page.evaluate("() => window.__pwned === undefined")


def test_phone_sized_screen_and_no_console_errors(
    browser: Any, ann: Session, crm: dict[str, Any]
) -> None:
    phone = Session(browser, crm, "root@example.com", mobile=True)
    try:
        page = phone.page
        for path in ("/inbox", "/account/password", f"/chat/{ann_customer_id(crm, CUSTOMER)}"):
            page.goto(path)
            page.wait_for_load_state(
                "networkidle"
            ) if path != f"/chat/{ann_customer_id(crm, CUSTOMER)}" else page.wait_for_timeout(500)
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390, f"{path} is {width}px wide on a 390px screen"
        page.click("#menu-toggle")  # on a phone the workspace switch is in the header's menu
        page.select_option("#workspace-agent", str(crm["ann"]["agent"]["id"]))
        page.wait_for_url("**/inbox")
    finally:
        phone.context.close()
    assert phone.errors == [], phone.errors
    assert ann.errors == [], ann.errors


def test_api_docs_work_offline_under_the_csp(browser: Any, crm: dict[str, Any]) -> None:
    """Issue 13 item 7: Swagger UI comes from the CRM itself (any other host is cut off, as
    offline), runs under the web CSP with no violation, and lists the API's operations."""
    from playwright.sync_api import expect

    context = browser.new_context(base_url=crm["base"])
    context.set_default_timeout(LIVE_TIMEOUT_MS)
    errors: list[str] = []
    elsewhere: list[str] = []

    def only_the_crm(route: Any) -> None:
        if route.request.url.startswith(crm["base"]):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_crm)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    response = page.goto("/api/docs")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 20
    expect(page.locator(".information-container")).to_contain_text("iDesign WhatsApp CRM")
    page.locator(".opblock-summary-path", has_text="/api/v1/auth/me").first.click()
    expect(page.locator(".try-out__btn").first).to_be_visible()
    assert elsewhere == [], elsewhere
    assert errors == [], errors
    context.close()
