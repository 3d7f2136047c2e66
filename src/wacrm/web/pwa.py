"""The installable web app: /manifest.webmanifest and the service worker /sw.js (static assets only)."""

from __future__ import annotations

import hashlib
import json
from functools import cache

from fastapi import APIRouter
from fastapi.responses import Response

from wacrm.i18n import gettext as _
from wacrm.web import STATIC_DIR

router = APIRouter(include_in_schema=False)

# What the service worker stores at install; anything else under /static/ is cached when first used.
PRECACHE = (
    "app.css",
    "pages.css",
    "app.js",
    "alerts.js",
    "keys.js",
    "favicon.svg",
    "icons/icon-192.png",
    "icons/icon-512.png",
    "vendor/htmx/htmx.min.js",
    "vendor/htmx-ext-sse/sse.min.js",
)


@cache
def _static_version() -> str:
    """A digest of the static files, so a new release replaces the cached copies."""
    digest = hashlib.sha256()
    for path in sorted(p for p in STATIC_DIR.rglob("*") if p.is_file()):
        digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@router.get("/manifest.webmanifest")
async def manifest() -> Response:
    body = {
        "name": "iDesign WhatsApp CRM",
        "short_name": "iDesign CRM",
        "description": _("Answer your WhatsApp customers and keep their orders."),
        "id": "/inbox",
        "start_url": "/inbox",
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "background_color": "#ffffff",
        "theme_color": "#0b6e4f",
        "icons": [
            {"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png"},
            {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png"},
            {
                "src": "/static/icons/icon-512.png",
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
            {"src": "/static/icons/icon.svg", "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    return Response(
        json.dumps(body, ensure_ascii=False),
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/sw.js")
async def service_worker() -> Response:
    """Served from the root so that its scope is the whole app; never cached by the browser."""
    text = (STATIC_DIR / "sw.js").read_text(encoding="utf-8")
    text = text.replace("__VERSION__", _static_version()).replace(
        "__PRECACHE__", json.dumps(["/static/" + p for p in PRECACHE])
    )
    return Response(
        text,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )
