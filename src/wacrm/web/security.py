"""Security headers for web responses: a strict CSP (no inline script), no framing, no sniffing."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wacrm.web.emoji import picker_style_hash

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # the emoji picker's one <style> element (its exact text, by hash: wacrm.web.emoji)
        " ".join(filter(None, ["style-src 'self'", picker_style_hash()])),
        "style-src-attr 'unsafe-inline'",  # style attributes set by htmx/Chart.js; no <style> blocks
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
]
API_PREFIXES = ("/api/", "/webhooks/", "/healthz", "/readyz", "/metrics", "/openapi.json")
PAGES_UNDER_API = frozenset({"/api/docs"})  # HTML pages (Swagger UI) get the headers too


class SecurityHeadersMiddleware:
    """Adds the headers to every response outside the JSON API and the webhook (pure ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if not path or (path.startswith(API_PREFIXES) and path not in PAGES_UNDER_API):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in HEADERS if n not in present]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)
