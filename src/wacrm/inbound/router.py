"""The FastAPI routes: `GET|POST /webhooks/whatsapp` (Meta's callback; the POST is answered by
`wacrm.inbound.endpoint`'s fast path in the app) and the admin view of the webhook journal."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, Response
from psycopg import AsyncConnection

from wacrm.accounts.deps import CurrentUser, db_conn, public, require_admin
from wacrm.inbound import journal
from wacrm.inbound.endpoint import OK_BODY, SIGNATURE_HEADER, accept_webhook
from wacrm.numbers import service as numbers

router = APIRouter(tags=["webhooks"])


@router.get("/webhooks/whatsapp", response_class=PlainTextResponse, dependencies=[Depends(public)])
async def verify_subscription(
    request: Request,
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
    shared = request.app.state.settings.whatsapp_verify_token  # WHATSAPP_VERIFY_TOKEN: any number's
    if shared:
        tokens.add(shared)
    if not any(hmac.compare_digest(token.encode(), t.encode()) for t in tokens):
        raise HTTPException(
            403, detail="verification refused: the verify token matches no active number"
        )
    return PlainTextResponse(challenge)


@router.post("/webhooks/whatsapp", dependencies=[Depends(public)])
async def receive(request: Request) -> Response:
    """A signed event from Meta: verified and journaled before the 200 (processed too, when inline);
    a refusal (WebhookRefused) is answered by the app's error handler."""
    await accept_webhook(request.app, await request.body(), request.headers.get(SIGNATURE_HEADER))
    return Response(content=OK_BODY, media_type="application/json")


admin_router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


@admin_router.get("/webhooks")
async def list_webhooks(
    status: str | None = Query(None, pattern="^(received|processed|failed)$"),
    limit: int = Query(50, ge=1, le=500),
    before_id: int | None = Query(None, ge=1, le=2**63 - 1),
    user: CurrentUser = Depends(require_admin),
    conn: AsyncConnection[Any] = Depends(db_conn),
) -> dict[str, Any]:
    """The raw webhook journal, newest first (status=failed: what needs a `wacrm webhooks replay`)."""
    rows = await journal.list_journal(conn, status=status, limit=limit, before_id=before_id)
    return {"items": rows, "next_before_id": rows[-1]["id"] if len(rows) == limit else None}
