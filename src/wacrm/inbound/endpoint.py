"""`POST /webhooks/whatsapp`: the signature check, `accept_webhook`, and the ASGI fast path.

`accept_webhook` verifies a body, then journals it (deferred processing) or journals and
processes it (inline), through the group-commit batcher when there is one; it returns once that is
committed. The fast path answers this POST first thing in the app, before any middleware or routing.

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
import hashlib
import hmac
import logging
import time
from typing import Any

import orjson
import psycopg
from psycopg_pool import PoolTimeout
from starlette.types import Receive, Scope, Send

from wacrm.errors import AppError
from wacrm.inbound.batcher import batcher_of
from wacrm.inbound.ingest import ingest_webhooks
from wacrm.inbound.journal import Webhook, journal_received
from wacrm.inbound.routing import route_cache
from wacrm.inbound.schemas import find_phone_number_id
from wacrm.ops import metrics
from wacrm.ops.limits import reject_too_large

log = logging.getLogger(__name__)

PATH = "/webhooks/whatsapp"
SIGNATURE_HEADER = "X-Hub-Signature-256"
OK_BODY = b'{"ok":true}'
_SIGNATURE = SIGNATURE_HEADER.lower().encode()
_JSON = [(b"content-type", b"application/json")]


class WebhookRefused(AppError):  # noqa: N818 - a refusal, answered as such
    """A webhook answered with a 4xx/5xx (its status and message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message, status)


def signature_matches(body: bytes, secret: str, header: str) -> bool:
    """Constant-time check of `sha256=<hex>` (HMAC-SHA256 of the raw bytes keyed with the app secret)."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().lower().encode())


async def accept_webhook(app: Any, body: bytes, signature: str | None) -> None:
    """Verify, journal and (inline) process one POST body; returns once it is committed, else
    raises WebhookRefused. Shared by the fast path and the FastAPI route."""
    if not signature:
        raise WebhookRefused(401, f"the {SIGNATURE_HEADER} header is missing")
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    pnid = find_phone_number_id(data)
    secret = None
    cache = route_cache(app)
    try:
        if pnid is not None:
            hit, route = cache.peek(pnid)
            if not hit:
                async with app.state.pool.connection() as conn:
                    route = await cache.get(conn, pnid)
            secret = route.app_secret if route is not None else None
        secret = secret or app.state.settings.whatsapp_app_secret
        if pnid is None and not secret:
            secret = await _waba_secret(app, data, body, signature)
        if not secret:
            raise WebhookRefused(403, "no app secret is known for this payload's phone_number_id")
        if not signature_matches(body, secret, signature):
            raise WebhookRefused(403, f"the {SIGNATURE_HEADER} signature does not match")
        hook = Webhook(body=body, data=data, phone_number_id=pnid)
        batcher = batcher_of(app)
        if batcher is not None:
            await batcher.submit(hook)
            return
        async with app.state.pool.connection() as conn:
            if app.state.settings.webhook_processing == "deferred":
                await journal_received(conn, [hook])
            else:
                await ingest_webhooks(conn, [hook], cache)
    except (psycopg.OperationalError, PoolTimeout) as exc:
        log.warning("webhook not stored, the database is unavailable: %s", exc)
        raise WebhookRefused(503, "the database is unavailable; Meta will deliver again") from exc


async def _waba_secret(app: Any, data: Any, body: bytes, signature: str) -> str | None:
    """For payloads routed by WABA id (template status, account fields): the secret of one of the
    WABA's numbers that signed this body."""
    from wacrm.wa_templates.service import app_secrets_of_waba, waba_of

    waba = waba_of(data)
    if waba is None:
        return None
    async with app.state.pool.connection() as conn:
        secrets = await app_secrets_of_waba(conn, waba)
    return next((s for s in secrets if signature_matches(body, s, signature)), None)


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
            return await _respond(send, exc.status, orjson.dumps({"detail": exc.message}))
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

    The modules, routes, models and templates of a web process live as long as the process;
    each full (generation 2) collection would walk all of them while no webhook is answered (the
    tail of the 200's latency, docs/performance.md). `gc.freeze()` keeps them out of every later
    collection (they are never freed anyway).
    """
    gc.collect()
    gc.freeze()
