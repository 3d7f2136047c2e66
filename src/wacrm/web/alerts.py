"""/alerts: the JSON the tab title, favicon badge, sound and desktop notifications are made from."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from wacrm.accounts.deps import AgentScope
from wacrm.alerts import service as alerts
from wacrm.web.deps import web_workspace

router = APIRouter(include_in_schema=False)


@router.get("/alerts")
async def alert_state(
    request: Request,
    scope: AgentScope = Depends(web_workspace),
    customer_id: int | None = Query(None, ge=1, le=2**62),
    message_id: int | None = Query(None, ge=1, le=2**62),
) -> Response:
    """Unread conversations of the workspace; with ids, the inbound message to alert about."""
    conn = scope.db
    unread = await alerts.unread_conversations(conn, tables=scope.tables, user_id=scope.user.id)
    message = None
    if customer_id is not None and message_id is not None:
        message = await alerts.new_message(
            conn,
            tables=scope.tables,
            user_id=scope.user.id,
            customer_id=customer_id,
            message_id=message_id,
        )
    return JSONResponse(
        {"unread": unread, "message": message}, headers={"Cache-Control": "no-store"}
    )
