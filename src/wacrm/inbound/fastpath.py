"""`POST /webhooks/whatsapp` answered at the ASGI level, before routing and dependency solving.

Meta's callback is the one hot, anonymous, machine-to-machine route: the profile of a web process
under load put ~40% of its CPU in the framework around it (route matching over every route, the
dependency solver and a thread-pool hop, inner middlewares) against ~5% in the handler. Installed
inside the body-size limit and the metrics middleware (so 413 and request metrics still apply),
it calls the same `accept_webhook` as the FastAPI route, which stays for the OpenAPI schema and
for apps built without this middleware.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from wacrm.inbound.router import OK_BODY, SIGNATURE_HEADER, WebhookRefused, accept_webhook

PATH = "/webhooks/whatsapp"
_SIGNATURE = SIGNATURE_HEADER.lower().encode()
_JSON = [(b"content-type", b"application/json")]


class WebhookFastPath:
    """Pure ASGI middleware: handles exactly `POST /webhooks/whatsapp`, passes everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        signature = None
        for name, value in scope["headers"]:
            if name == _SIGNATURE:
                signature = value.decode("latin-1")
                break
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        try:
            await accept_webhook(scope["app"], body, signature)
        except WebhookRefused as exc:
            await _answer(send, exc.status, orjson.dumps({"detail": exc.detail}))
            return
        await _answer(send, 200, OK_BODY)


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers: list[Any] = [*_JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
