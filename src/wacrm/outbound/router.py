"""Sending API: queue a message, upload a file for sending, retry a failed send, list templates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from psycopg import AsyncConnection

from wacrm.accounts.deps import AgentScope, agent_scope, db_conn
from wacrm.numbers import service as numbers
from wacrm.outbound import errors, media, service, templates
from wacrm.outbound.schemas import OutboundContent

router = APIRouter(prefix="/api/v1", tags=["sending"])


def _public(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k not in ("raw",)}


@router.post("/customers/{customer_id}/messages", status_code=202)
async def send(
    customer_id: int,
    content: OutboundContent,
    bulk: bool = Query(
        False,
        description="Part of a broadcast: sent at the number's rate, after the agent's replies "
        "(which keep going out within a moment while a broadcast is under way).",
    ),
    scope: AgentScope = Depends(agent_scope),
    conn: AsyncConnection[Any] = Depends(db_conn),
) -> dict[str, Any]:
    """Queue a message to the customer; it is sent in the background (watch its status)."""
    message = await service.queue_message(
        conn,
        tables=scope.tables,
        agent_id=scope.agent_id,
        customer_id=customer_id,
        content=content,
        sent_by=scope.user.id,
        bulk=bulk,
    )
    return _public(message)


@router.post("/media", status_code=201)
async def upload(
    file: UploadFile = File(...),
    kind: str = Form(..., description="image, video, audio, document or sticker"),
    scope: AgentScope = Depends(agent_scope),
    conn: AsyncConnection[Any] = Depends(db_conn),
) -> dict[str, Any]:
    """Upload a file to send later as `media_id` of an image/video/audio/document/sticker message."""
    data = await file.read()
    return await media.store(
        conn,
        agent_id=scope.agent_id,
        kind=kind,
        filename=file.filename or "file",
        mime_type=file.content_type or "application/octet-stream",
        data=data,
        uploaded_by=scope.user.id,
    )


@router.post("/messages/{message_id}/retry", status_code=202)
async def retry(
    message_id: int,
    scope: AgentScope = Depends(agent_scope),
    conn: AsyncConnection[Any] = Depends(db_conn),
) -> dict[str, Any]:
    """Queue a failed message again."""
    return _public(await service.retry_message(conn, tables=scope.tables, message_id=message_id))


@router.get("/templates")
async def list_templates(
    request: Request,
    refresh: bool = Query(
        False, description="Fetch the list from WhatsApp again instead of the cache."
    ),
    scope: AgentScope = Depends(agent_scope),
    conn: AsyncConnection[Any] = Depends(db_conn),
) -> dict[str, Any]:
    """The message templates of the agent's number (cached; fetched from WhatsApp when empty or asked)."""
    config = await numbers.get_by_agent_id(conn, agent_id=scope.agent_id)
    if config is None:
        raise HTTPException(
            409,
            detail="this workspace has no WhatsApp number: an administrator connects one in "
            "Admin › WhatsApp numbers",
        )
    found = await templates.cached(conn, config_id=config["id"])
    if refresh or not found:
        try:
            found = await templates.refresh(
                conn, config=config, graph=request.app.state.settings.graph_api
            )
        except errors.SendError as exc:
            raise HTTPException(
                502, detail=f"WhatsApp did not list the templates: {exc.explanation}"
            ) from None
    return {"templates": found}
