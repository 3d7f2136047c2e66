"""/api/docs: Swagger UI from the package's own vendored files (no CDN), under the web CSP."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

DOCS_PATH = "/api/docs"
SWAGGER = "/static/vendor/swagger-ui"  # scripts/vendor.sh: swagger-ui-dist, unmodified
PAGE = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>iDesign WhatsApp CRM API</title>
  <link rel="icon" href="/static/favicon.svg">
  <link rel="stylesheet" href="{SWAGGER}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui" data-openapi-url="/openapi.json"></div>
  <script src="{SWAGGER}/swagger-ui-bundle.js"></script>
  <script src="/static/api-docs.js"></script>
</body>
</html>
"""


@router.get(DOCS_PATH, response_class=HTMLResponse)
async def api_docs() -> HTMLResponse:
    """The interactive API documentation (the same-origin OpenAPI document, Bearer tokens)."""
    return HTMLResponse(PAGE, headers={"Cache-Control": "no-cache"})
