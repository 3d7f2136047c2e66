"""`GET|POST /webhooks/whatsapp` (Meta's callback) and the admin view of the webhook journal."""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

import orjson
import psycopg
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, Response
from psycopg import AsyncConnection
from psycopg_pool import PoolTimeout

from wacrm.accounts.deps import CurrentUser, db_conn, public, require_admin
from wacrm.inbound import service
from wacrm.inbound.batcher import batcher_of
from wacrm.inbound.routing import RouteCache
from wacrm.inbound.schemas import find_phone_number_id
from wacrm.inbound.service import Webhook
from wacrm.numbers import service as numbers

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])
SIGNATURE_HEADER = "X-Hub-Signature-256"
OK_BODY = b'{"ok":true}'


def route_cache(app: Any) -> RouteCache:
    cache = getattr(app.state, "route_cache", None)
    if cache is None:
        cache = app.state.route_cache = RouteCache()
    return cache


def signature_matches(body: bytes, secret: str, header: str) -> bool:
    """Constant-time check of `sha256=<hex>` (HMAC-SHA256 of the raw bytes keyed with the app secret)."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().lower().encode())


@router.get("/webhooks/whatsapp", response_class=PlainTextResponse, dependencies=[Depends(public)])
async def verify_subscription(
    mode: str | None = Query(None, alias="hub.mode"),
    token: str | None = Query(None, alias="hub.verify_token"),
    challenge: str | None = Query(None, alias="hub.challenge"),
    conn: AsyncConnection[Any] = Depends(db_conn),
) -> PlainTextResponse:
    """Meta's subscription handshake: echo the challenge when the verify token is ours."""
    if mode != "subscribe" or not token or challenge is None:
        raise HTTPException(
            403, detail="verification refused: hub.mode must be 'subscribe' with a verify token"
        )
    tokens = await numbers.list_verify_tokens(conn)
    if not any(hmac.compare_digest(token.encode(), t.encode()) for t in tokens):
        raise HTTPException(
            403, detail="verification refused: the verify token matches no active number"
        )
    return PlainTextResponse(challenge)


class WebhookRefused(Exception):
    """A webhook answered with a 4xx/5xx (status and the `detail` text)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


async def accept_webhook(app: Any, body: bytes, signature: str | None) -> None:
    """Verify, journal and process one POST body; returns once it is committed, else WebhookRefused.

    Shared by the FastAPI route and the ASGI fast path (wacrm.inbound.fastpath).
    """
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
        if not secret:
            raise WebhookRefused(403, "no app secret is known for this payload's phone_number_id")
        if not signature_matches(body, secret, signature):
            raise WebhookRefused(403, f"the {SIGNATURE_HEADER} signature does not match")
        hook = Webhook(body=body, data=data, phone_number_id=pnid)
        batcher = batcher_of(app)
        if batcher is not None:
            await batcher.submit(hook)
        else:
            async with app.state.pool.connection() as conn:
                if app.state.settings.webhook_processing == "deferred":
                    await service.journal_received(conn, [hook])
                else:
                    await service.store_webhook(conn, hook, cache)
    except (psycopg.OperationalError, PoolTimeout) as exc:
        log.warning("webhook not stored, the database is unavailable: %s", exc)
        raise WebhookRefused(503, "the database is unavailable; Meta will deliver again") from exc


@router.post("/webhooks/whatsapp", dependencies=[Depends(public)])
async def receive(request: Request) -> Response:
    """A signed event from Meta: verified and journaled before the 200 (processed too, when inline)."""
    try:
        await accept_webhook(
            request.app, await request.body(), request.headers.get(SIGNATURE_HEADER)
        )
    except WebhookRefused as exc:
        raise HTTPException(exc.status, detail=exc.detail) from exc
    return Response(content=OK_BODY, media_type="application/json")


admin_router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


@admin_router.get("/webhooks")
async def list_webhooks(
    status: str | None = Query(None, pattern="^(received|processed|failed)$"),
    limit: int = Query(50, ge=1, le=500),
    before_id: int | None = Query(None, ge=1),
    user: CurrentUser = Depends(require_admin),
    conn: AsyncConnection[Any] = Depends(db_conn),
) -> dict[str, Any]:
    """The raw webhook journal, newest first (status=failed: what needs a `wacrm webhooks replay`)."""
    rows = await service.list_journal(conn, status=status, limit=limit, before_id=before_id)
    return {"items": rows, "next_before_id": rows[-1]["id"] if len(rows) == limit else None}
