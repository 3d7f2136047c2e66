"""`POST /webhooks/whatsapp` answered first thing in the app, before any middleware or routing.

Meta's callback is the one hot, anonymous, machine-to-machine route: profiles of a web process
under load put most of its CPU in the framework around it (route matching over every route, the
dependency solver and a thread-pool hop, then, once those were skipped, the stack of middlewares:
error handling, telemetry, body limits, metrics, each wrapping `receive` and `send`) against a
small share in the handler. `CRMApp.__call__` hands this one request to `WebhookFastPath`, which
applies what those middlewares would (the body-size limit with 413, the request metrics, a 500 for
an unexpected error) and calls the same `accept_webhook` as the FastAPI route; the route stays for
the OpenAPI schema and for apps built without the fast path.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from wacrm.inbound.router import OK_BODY, SIGNATURE_HEADER, WebhookRefused, accept_webhook
from wacrm.ops import metrics
from wacrm.ops.limits import reject_too_large

log = logging.getLogger(__name__)

PATH = "/webhooks/whatsapp"
_SIGNATURE = SIGNATURE_HEADER.lower().encode()
_JSON = [(b"content-type", b"application/json")]


def is_webhook_post(scope: Scope) -> bool:
    return scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "POST"


class WebhookFastPath:
    """Answers `POST /webhooks/whatsapp` for `app` (its state: pool, settings, batcher)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._latency = metrics.LATENCY.labels("POST", PATH)
        self._requests: dict[int, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        status = await self._answer(scope, receive, send)
        counter = self._requests.get(status)
        if counter is None:
            counter = self._requests[status] = metrics.REQUESTS.labels("POST", PATH, str(status))
        counter.inc()
        self._latency.observe(time.perf_counter() - start)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> int:
        signature = None
        for name, value in scope["headers"]:
            if name == _SIGNATURE:
                signature = value.decode("latin-1")
            elif name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                return await self._too_large(send)
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return 499  # the client went away: nothing was journaled, Meta delivers again
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await self._too_large(send)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        try:
            await accept_webhook(self.app, body, signature)
        except WebhookRefused as exc:
            return await _respond(send, exc.status, orjson.dumps({"detail": exc.detail}))
        except Exception:
            log.exception("webhook not accepted: unexpected error")
            return await _respond(send, 500, b'{"detail":"Internal Server Error"}')
        return await _respond(send, 200, OK_BODY)

    async def _too_large(self, send: Send) -> int:
        await reject_too_large(send, self.max_bytes)
        return 413


async def _respond(send: Send, status: int, body: bytes) -> int:
    headers: list[Any] = [*_JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status


async def freeze_startup_objects(app: Any, stack: contextlib.AsyncExitStack) -> None:
    """Startup hook, last: move every object alive after startup out of the collector's reach.

    The modules, routes, models and templates of a web process are ~130,000 objects that live as
    long as the process; each full (generation 2) collection walked all of them: 40-90 ms during
    which no webhook was answered, the tail of the 200's latency at a constant 1,000/s.
    `gc.freeze()` keeps them out of every later collection (they are never freed anyway).
    """
    gc.collect()
    gc.freeze()
