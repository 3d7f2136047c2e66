"""A Portuguese (Brazil) browser sees pydantic's validation error in Portuguese, next to the field
(Chromium via Playwright; the CRM and browser fixtures of test_browser.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import PASSWORD
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    CHROMIUM,
    ann_customer_id,
    browser,
    crm,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing"),
]
CUSTOMER = "4915123400191"


def test_a_pt_br_user_sees_a_portuguese_validation_error_next_to_the_field(
    browser: Any,  # noqa: F811
    crm: dict[str, Any],  # noqa: F811
) -> None:
    crm["sandbox"].send_as_customer(CUSTOMER, "text", text="Olá!", name="Bia Validação")
    customer_id = ann_customer_id(crm, CUSTOMER)
    context = browser.new_context(base_url=crm["base"], locale="pt-BR")
    try:
        page = context.new_page()
        page.goto("/login")
        page.fill("#email", "ann@example.com")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/inbox")
        page.goto(f"/chat/{customer_id}")
        page.click("#note-box summary")
        note = page.locator("#note-text")
        # the browser's own maxlength is lifted: the server's limit (20,000) answers
        note.evaluate("el => el.removeAttribute('maxlength')")
        note.fill("x" * 20001)
        page.click("#note-box button[type=submit]")
        error = page.locator("#note-box .form-error")
        error.wait_for()
        text = error.inner_text()
        assert "longo demais: escreva no máximo 20000 caracteres" in text, text
        assert "String should have" not in text
        assert note.get_attribute("aria-invalid") == "true"
        # next to the field: right below the note's text box
        box, below = note.bounding_box(), error.bounding_box()
        assert box and below and 0 <= below["y"] - (box["y"] + box["height"]) < 80
    finally:
        context.close()
