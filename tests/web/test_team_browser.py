"""Real-browser tests of the team inbox (Chromium via Playwright, the sandbox): the composer's '/'
list of canned responses, the emoji picker, assigning and resolving from the chat (live on a
second member's screen), private notes.

Reuses the CRM/browser fixtures of test_browser.py (one CRM server for this module).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.web.conftest import PASSWORD
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    CHROMIUM,
    SCREENSHOTS,
    Session,
    ann_customer_id,
    browser,
    crm,
    run_async,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing"),
]
CUSTOMER = "4915123400161"


def _sql(crm: dict[str, Any], query: str, *params: Any) -> list[dict[str, Any]]:  # noqa: F811
    with psycopg.connect(crm["url"], row_factory=dict_row, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


@pytest.fixture(scope="module")
def desk(crm: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    """Mia joins Ann's workspace; a label, a canned response; a customer who wrote."""
    agent_id = crm["ann"]["agent"]["id"]

    async def make_mia() -> Any:
        from wacrm.accounts.service import create_user

        async with await psycopg.AsyncConnection.connect(
            crm["url"], row_factory=dict_row, autocommit=True
        ) as conn:
            user = await create_user(
                conn, email="mia@example.com", name="Mia", role="agent", password=PASSWORD
            )
            return user["id"]

    mia = run_async(make_mia)
    _sql(crm, "INSERT INTO agent_members (agent_id, user_id) VALUES (%s, %s)", agent_id, mia)
    _sql(
        crm,
        "INSERT INTO workspace_labels (agent_id, name, color) VALUES (%s, 'vip', '#d4a017')",
        agent_id,
    )
    _sql(
        crm,
        "INSERT INTO canned_responses (agent_id, shortcut, body) VALUES (%s, 'thanks', %s),"
        " (%s, 'hours', 'We open at 9, {{customer.name}}')",
        agent_id,
        "Thank you {{customer.name}}! {{agent.name}}",
        agent_id,
    )
    crm["sandbox"].send_as_customer(
        CUSTOMER, "text", text="Is my parcel on its way?", name="Greta Team"
    )
    return {"customer": ann_customer_id(crm, CUSTOMER), "mia": mia}


@pytest.fixture(scope="module")
def ann(browser: Any, crm: dict[str, Any], desk: dict[str, Any]) -> Iterator[Any]:  # noqa: F811
    session = Session(browser, crm, "ann@example.com")
    yield session
    session.context.close()
    assert session.errors == [], session.errors


@pytest.fixture(scope="module")
def mia(browser: Any, crm: dict[str, Any], desk: dict[str, Any]) -> Iterator[Any]:  # noqa: F811
    session = Session(browser, crm, "mia@example.com")
    yield session
    session.context.close()
    assert session.errors == [], session.errors


def _open_chat(page: Any, customer: int) -> None:
    page.goto(f"/chat/{customer}")
    page.wait_for_function("() => window.htmx !== undefined")
    page.wait_for_timeout(800)  # the live stream is connected


def test_slash_lists_canned_responses_and_keys_choose_one(
    ann: Any, desk: dict[str, Any], crm: dict[str, Any]
) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page = ann.page
    _open_chat(page, desk["customer"])
    box = page.locator("#composer-text")
    box.click()
    box.type("/")
    options = page.locator("#canned-list [role=option]")
    expect(options).to_have_count(2)
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    box.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    box.press("ArrowDown")  # wraps to the first
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    box.press("ArrowUp")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    box.type("th")  # the list narrows to /thanks
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("/thanks")
    box.press("Enter")  # chooses; does not send
    expect(page.locator("#canned-list")).to_be_hidden()
    assert box.input_value() == "Thank you Greta Team! Ann"
    assert box.get_attribute("aria-expanded") == "false"
    box.type(" See you")
    box.press("Escape")
    box.fill("")
    box.type("/nothing-like-this")
    expect(page.locator("#canned-list")).to_contain_text("No canned response matches")
    box.press("Escape")
    expect(page.locator("#canned-list")).to_be_hidden()
    box.fill("/hours")
    box.dispatch_event("input")
    expect(options).to_have_count(1)
    options.first.click()
    assert box.input_value() == "We open at 9, Greta Team"
    outbound = _sql(
        crm,
        f"SELECT count(*) AS n FROM {crm['ann']['agent']['agent_prefix']}_messages WHERE direction = 'outbound'",
    )
    assert outbound[0]["n"] == 0  # choosing a canned response sends nothing
    box.press("Enter")  # now Enter sends the edited text
    expect(page.locator(".msg.outbound").last).to_contain_text("We open at 9, Greta Team")
    expect(page.locator(".msg.outbound .sender").last).to_have_text("Ann")


def test_emoji_picker_inserts_at_the_caret(ann: Any, desk: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    page = ann.page
    _open_chat(page, desk["customer"])
    box = page.locator("#composer-text")
    box.fill("Great ")
    page.click("#emoji-button")
    picker = page.locator("emoji-picker")
    expect(picker).to_be_visible()
    first = picker.locator("[role=tabpanel] [role=menuitem]").first  # pierces the shadow root
    expect(first).to_be_visible()
    emoji = first.inner_text().strip()
    assert emoji
    first.click()
    expect(page.locator("#emoji-pop")).to_be_hidden()
    assert box.input_value() == "Great " + emoji
    # the picker's styles were allowed by the CSP (it has its size; a refused style is a
    # console error, which the session fixture fails on)
    page.click("#emoji-button")
    expect(picker).to_be_visible()
    assert picker.bounding_box()["height"] > 100
    page.keyboard.press("Escape")
    expect(page.locator("#emoji-pop")).to_be_hidden()


def test_assign_and_resolve_from_the_chat_live_on_both_screens(
    ann: Any,
    mia: Any,
    desk: dict[str, Any],
    crm: dict[str, Any],  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    customer = desk["customer"]
    a, m = ann.page, mia.page
    _open_chat(a, customer)
    _open_chat(m, customer)
    a.select_option("#conv-assignee", label="Mia")
    expect(a.locator("#conv-assignee")).to_have_value(str(desk["mia"]))
    expect(m.locator("#conv-assignee")).to_have_value(str(desk["mia"]))  # live on Mia's screen
    expect(m.locator(".system-line").last).to_contain_text("Ann assigned Mia")
    m.click("#resolve-button")
    expect(m.locator("#conv-status")).to_have_attribute("data-status", "resolved")
    expect(a.locator("#conv-status")).to_have_attribute("data-status", "resolved")
    expect(a.locator(".system-line").last).to_contain_text(
        "Mia changed the status from open to resolved"
    )
    # labels and a private note with a mention
    a.click(".label-pick summary")
    a.check(".label-pick input[value=vip]")
    expect(m.locator("#conv-bar .label-chip", has_text="vip").first).to_be_visible()
    a.click("#note-box summary")
    a.fill("#note-text", "@mia she pays by bank transfer")
    a.click("#note-box button[type=submit]")
    note = m.locator(".note").last
    expect(note).to_contain_text("she pays by bank transfer")
    expect(note).to_contain_text("Ann")
    # Mia's inbox: resolved conversations leave the default (open) list; "mentions" finds it
    m.goto("/inbox")
    expect(m.locator(".status-counts [data-status=resolved] .n")).to_have_text("1")
    expect(m.locator(f"#c-{customer}")).to_have_count(0)
    m.goto("/inbox?status=all&mentions=true")
    expect(m.locator(f"#c-{customer}")).to_contain_text("Mia")
    # reopen from the chat; the customer writing again would too
    a.click("#reopen-button")
    expect(a.locator("#conv-status")).to_have_attribute("data-status", "open")
    sent = crm["sandbox"].sent_messages()
    assert not any("bank transfer" in str(msg) for msg in sent["messages"])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    a.screenshot(path=str(SCREENSHOTS / "team-chat.png"))


def test_phone_width_team_bar(browser: Any, crm: dict[str, Any], desk: dict[str, Any]) -> None:  # noqa: F811
    session = Session(browser, crm, "mia@example.com", mobile=True)
    page = session.page
    page.set_viewport_size({"width": 360, "height": 740})
    _open_chat(page, desk["customer"])
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 360, width
    page.goto("/team")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    session.context.close()
    assert session.errors == [], session.errors
