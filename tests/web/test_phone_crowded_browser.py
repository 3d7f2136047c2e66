"""Issue 17, checked with cases it did not list (Chromium via Playwright, the sandbox): a conversation
with many labels, a team of members with long email addresses, a customer whose name is one long
word, an outgoing webhook with a long address; at 360, 390 and 414 px nothing sticks out, the
members table is stacked cards, and links and check boxes that stand alone are 44 px touch targets.

Reuses the CRM/browser fixtures of test_browser.py (one CRM server for this module).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.web.conftest import PASSWORD
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    CHROMIUM,
    ann_customer_id,
    browser,
    crm,
    run_async,
)
from tests.web.test_phone_browser import OVERFLOW_JS, Phone

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing"),
]
LONG_WORD = "Donaudampfschifffahrtsgesellschaftskapitaen" * 2
CUSTOMER = "5511987653001"
# Links that stand alone (not inside a sentence or a message) and check boxes with their label:
# what a thumb has to hit. Links inside text (.hint, .bubble, dd) are left out.
STANDALONE_TARGETS_JS = """
() => {
  const bad = [];
  const targets = document.querySelectorAll(
    "td a[href], p > a[href]:only-child, .totals a, .order-customer > a, .orders-list a, label:has(input[type=checkbox])");
  for (const el of targets) {
    if (el.closest("[hidden], dialog:not([open]), .skip, details:not([open]), .bubble, .hint, dd")) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.height < 43.5) bad.push(el.tagName.toLowerCase() + " '" + el.textContent.trim().slice(0, 30) + "' " + r.height);
  }
  return bad.slice(0, 12);
}
"""


def _sql(crm: dict[str, Any], query: str, *params: Any) -> list[dict[str, Any]]:  # noqa: F811
    with psycopg.connect(crm["url"], row_factory=dict_row, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


@pytest.fixture(scope="module")
def crowded(crm: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    """Ann's workspace: a customer named with one long word, 20 labels on the conversation, three
    members with long email addresses, an order, an outgoing webhook with a long address."""
    agent = crm["ann"]["agent"]
    crm["sandbox"].send_as_customer(CUSTOMER, "text", text="hello", name=LONG_WORD)
    cid = ann_customer_id(crm, CUSTOMER)

    async def setup() -> int:
        from wacrm.accounts.service import create_user
        from wacrm.agents.tables import AgentTables
        from wacrm.hooks import service as hooks
        from wacrm.orders import service as orders

        async with await psycopg.AsyncConnection.connect(
            crm["url"], row_factory=dict_row, autocommit=True
        ) as conn:
            for n in range(3):
                user = await create_user(
                    conn,
                    email=f"member.{n}.{LONG_WORD.lower()}@sub.example-company.com",
                    name=f"Member {n}",
                    role="agent",
                    password=PASSWORD,
                )
                await conn.execute(
                    "INSERT INTO agent_members (agent_id, user_id) VALUES (%s, %s)",
                    (agent["id"], user["id"]),
                )
            await hooks.create_endpoint(
                conn,
                agent_id=agent["id"],
                url="https://hooks.example.com/" + "segment/" * 20 + LONG_WORD,
                events=["message.received"],
                private_ok=True,
            )
            tables = AgentTables(agent["id"], agent["agent_prefix"])
            row = await orders.create_order(
                conn,
                tables=tables,
                customer_id=cid,
                items=[{"name": "Scarf", "quantity": 1, "price": "9.90"}],
                currency="BRL",
            )
            return int(row["id"])

    order_id = run_async(setup)
    prefix = agent["agent_prefix"]
    for n in range(20):
        label = _sql(
            crm,
            "INSERT INTO workspace_labels (agent_id, name, color) VALUES (%s, %s, '#d4a017')"
            " RETURNING id",
            agent["id"],
            f"label-{n:02d}-" + LONG_WORD[:30].lower(),
        )[0]["id"]
        _sql(
            crm,
            f"INSERT INTO {prefix}_conversation_labels (label_id, customer_id) VALUES (%s, %s)",
            label,
            cid,
        )
    return {"customer_id": cid, "order_id": order_id}


@pytest.mark.parametrize("width", [360, 390, 414])
def test_crowded_pages_fit_and_their_targets_are_big_enough(
    browser: Any,  # noqa: F811
    crm: dict[str, Any],  # noqa: F811
    crowded: dict[str, Any],
    width: int,
) -> None:
    viewport = {"width": width, "height": 800}
    pages = {
        "ann@example.com": ("/inbox", "/orders", f"/orders/{crowded['order_id']}", "/orders/new",
                            "/team", "/templates", "/broadcasts", "/nonexistent-page"),
        "root@example.com": ("/admin/integrations", "/admin/numbers", "/admin/users"),
    }  # fmt: skip
    for email, paths in pages.items():
        phone = Phone(browser, crm, email, viewport=viewport)
        for path in paths:
            phone.page.goto(path)
            phone.check_fits(f"{path} at {width} px")
            small = phone.page.evaluate(STANDALONE_TARGETS_JS)
            assert small == [], f"{path} at {width} px: targets under 44 px"
        if email.startswith("ann"):
            phone.page.goto("/team")
            display = phone.page.locator("#members tbody tr").first.evaluate(
                "tr => getComputedStyle(tr).display"
            )
            assert display == "block", "the members table is not stacked cards"
            phone.page.goto(f"/chat/{crowded['customer_id']}")
            phone.page.click("#conv-more-toggle")
            phone.page.click(".label-pick > summary")
            assert phone.page.evaluate(OVERFLOW_JS) == [], "the label picker sticks out"
            small = phone.page.evaluate(STANDALONE_TARGETS_JS)
            assert small == [], "label picker: check boxes under 44 px"
            phone.page.goto(f"/chat/{crowded['customer_id']}")
            phone.page.click(".customer-link")  # the panel, with the customer's order
            phone.check_fits(f"customer panel at {width} px")
            assert phone.page.evaluate(STANDALONE_TARGETS_JS) == [], "customer panel"
        phone.close()
        assert [e for e in phone.errors if "404" not in e] == [], phone.errors
