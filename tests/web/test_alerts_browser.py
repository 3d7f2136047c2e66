"""Issue 17 in Chromium: the sound and the desktop notification for a message in a conversation
that is not in front of the user (and none for the one that is), and the keyboard shortcuts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.test_browser import (  # noqa: F401  (fixtures)
    CHROMIUM,
    ann_customer_id,
    browser,
    crm,
)
from tests.web.test_phone_browser import Phone

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing"),
]
WIDE = {"width": 1280, "height": 860}

# A stand-in for the browser's Notification (headless Chromium shows none): records each one.
NOTIFICATION_SPY = """
window.__notes = [];
class SpyNotification {
  constructor(title, options) { window.__notes.push({title, body: options.body, tag: options.tag}); }
  close() {}
  static requestPermission() { return Promise.resolve("granted"); }
}
SpyNotification.permission = "granted";
window.Notification = SpyNotification;
"""


def _chimes(page: Any) -> str:
    return page.locator("body").get_attribute("data-last-chime") or ""


def test_a_message_elsewhere_chimes_and_notifies_the_open_chat_does_not(
    browser: Any,  # noqa: F811
    crm: dict[str, Any],  # noqa: F811
) -> None:
    sandbox = crm["sandbox"]
    sandbox.send_as_customer("5511987651001", "text", text="first", name="Open Olga")
    open_id = ann_customer_id(crm, "5511987651001")
    phone = Phone(browser, crm, "ann@example.com", viewport=WIDE)
    page = phone.page
    phone.context.add_init_script(NOTIFICATION_SPY)
    page.goto(f"/chat/{open_id}")
    page.wait_for_function("() => window.htmx !== undefined")
    page.bring_to_front()
    page.locator("body").press("Shift")  # a key press: the autoplay rule lets the page sound
    page.wait_for_timeout(800)  # the live stream is open

    sandbox.send_as_customer("5511987651001", "text", text="in front of you", name="Open Olga")
    page.wait_for_selector("text=in front of you")
    page.wait_for_timeout(1000)
    assert page.evaluate("() => window.__notes") == []
    assert _chimes(page) == ""

    sandbox.send_as_customer("5511987651002", "text", text="Is the shop open today?", name="Rui")
    page.wait_for_function("() => window.__notes.length > 0")
    notes = page.evaluate("() => window.__notes")
    assert len(notes) == 1 and notes[0]["title"].startswith("Rui"), notes
    assert "Is the shop open" in notes[0]["body"]
    page.wait_for_function("() => document.body.getAttribute('data-last-chime')")
    phone.close()
    assert phone.errors == [], phone.errors


def test_keyboard_shortcuts(browser: Any, crm: dict[str, Any]) -> None:  # noqa: F811
    sandbox = crm["sandbox"]
    for number, name in (("5511987652001", "Kim"), ("5511987652002", "Lee")):
        sandbox.send_as_customer(number, "text", text="hello", name=name)
    phone = Phone(browser, crm, "ann@example.com", viewport=WIDE)
    page = phone.page
    page.goto("/inbox")
    for name in ("Kim", "Lee"):  # both arrived (a live re-render would move the focus away)
        page.wait_for_selector(f"#inbox-list .conversation:has-text('{name}')")
    page.wait_for_timeout(1000)
    page.keyboard.press("?")
    page.wait_for_selector("dialog#help[open]")
    page.keyboard.press("Escape")
    page.wait_for_selector("dialog#help:not([open])", state="attached")
    page.keyboard.press("Control+k")
    assert page.evaluate("() => document.activeElement && document.activeElement.id") == "inbox-q"
    page.locator("#inbox-q").press("Escape")
    page.evaluate("() => document.activeElement.blur()")
    page.keyboard.press("Alt+ArrowDown")
    first = page.evaluate("() => document.activeElement.getAttribute('href')")
    page.keyboard.press("Alt+ArrowDown")
    second = page.evaluate("() => document.activeElement.getAttribute('href')")
    assert first and second and first != second and second.startswith("/chat/"), (first, second)
    page.keyboard.press("Alt+ArrowUp")
    assert page.evaluate("() => document.activeElement.getAttribute('href')") == first
    phone.close()
    assert phone.errors == [], phone.errors


def test_escape_closes_the_emoji_picker(browser: Any, crm: dict[str, Any]) -> None:  # noqa: F811
    crm["sandbox"].send_as_customer("5511987652101", "text", text="hi", name="Esc Emma")
    customer = ann_customer_id(crm, "5511987652101")
    phone = Phone(browser, crm, "ann@example.com", viewport=WIDE)
    page = phone.page
    page.goto(f"/chat/{customer}")
    page.click("#emoji-button")
    page.wait_for_selector("#emoji-pop emoji-picker")
    assert page.get_attribute("#emoji-button", "aria-expanded") == "true"
    page.keyboard.press("Escape")
    page.wait_for_selector("#emoji-pop", state="hidden")
    assert page.get_attribute("#emoji-button", "aria-expanded") == "false"
    phone.close()
    assert phone.errors == [], phone.errors
