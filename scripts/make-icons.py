"""Render the web app's PNG icons from static/icons/icon.svg with Chromium (no image library)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import sync_playwright

ICONS = Path(__file__).resolve().parents[1] / "src/wacrm/web/static/icons"
SIZES = (180, 192, 512)

with sync_playwright() as p:
    browser = p.chromium.launch(
        executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
    )
    svg = (ICONS / "icon.svg").read_text()
    for size in SIZES:
        page = browser.new_page(viewport={"width": size, "height": size})
        page.set_content(
            "<style>html,body{margin:0}svg{display:block;width:100vw;height:100vh}</style>" + svg
        )
        page.screenshot(path=str(ICONS / f"icon-{size}.png"), omit_background=True)
        page.close()
    browser.close()
