"""/api/docs is Swagger UI from the package's own files, under the CSP (issue 13 item 7)."""

from __future__ import annotations

import re
from pathlib import Path

import wacrm.web

VENDOR = Path(wacrm.web.__file__).parent / "static" / "vendor" / "swagger-ui"


async def test_the_docs_page_loads_only_local_assets_under_the_csp(client) -> None:
    page = await client.get("/api/docs")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src-attr")[0]
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text  # no inline script
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/static/") for a in assets), assets
    assert "cdn" not in page.text.lower() and "http" not in page.text
    for asset in assets:
        response = await client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 0
    bundle = await client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
    assert "javascript" in bundle.headers["content-type"]
    assert (await client.get("/openapi.json")).status_code == 200


def test_swagger_ui_is_vendored_with_its_licence_and_version() -> None:
    assert "Apache License" in (VENDOR / "LICENSE").read_text()
    assert (VENDOR / "VERSION").read_text().startswith("swagger-ui-dist@")
    assert (VENDOR / "swagger-ui-bundle.js.LICENSE.txt").exists()
    script = (Path(__file__).parents[2] / "scripts" / "vendor.sh").read_text()
    assert (VENDOR / "VERSION").read_text().strip() in script


async def test_fastapis_cdn_pages_are_gone(client) -> None:
    assert (await client.get("/docs/oauth2-redirect")).status_code == 404
    assert (await client.get("/docs")).status_code == 404
    assert (await client.get("/redoc")).status_code == 404
