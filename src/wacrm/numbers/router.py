"""WhatsApp configurations API (admins only); secrets are write-only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from psycopg import AsyncConnection

from wacrm.accounts.deps import db_conn, require_admin
from wacrm.accounts.schemas import Message
from wacrm.numbers import checks, service
from wacrm.numbers.schemas import NumberCreate, NumberFields, NumberOut

router = APIRouter(
    prefix="/api/v1/whatsapp/configurations",
    tags=["whatsapp numbers"],
    dependencies=[Depends(require_admin)],
    responses={400: {"model": Message}, 404: {"model": Message}, 409: {"model": Message}},
)
Conn = AsyncConnection[Any]


async def _by_id(conn: Conn, config_id: int) -> dict[str, Any]:
    rows = await service.list_configurations(conn, config_id=config_id)
    if not rows:
        raise HTTPException(404, detail=f"no WhatsApp configuration with id {config_id}")
    return rows[0]


@router.get("", response_model=list[NumberOut])
async def list_numbers(conn: Conn = Depends(db_conn)):
    return await service.list_configurations(conn)


@router.post("", response_model=NumberOut, status_code=201)
async def create_number(body: NumberCreate, request: Request, conn: Conn = Depends(db_conn)):
    """Configure a user's WhatsApp number (one per user); webhook_url comes from WACRM_PUBLIC_URL."""
    existing = await service.get_for_user(conn, user_id=body.user_id)
    if existing is not None:
        raise HTTPException(
            409,
            detail=f"this user already has a WhatsApp configuration (id {existing['id']}); "
            "change it with PATCH",
        )
    row = await service.configure(
        conn, webhook_url=request.app.state.settings.webhook_url, **body.model_dump()
    )
    return await _by_id(conn, row["id"])


@router.get("/{config_id}", response_model=NumberOut)
async def get_number(config_id: int, conn: Conn = Depends(db_conn)):
    return await _by_id(conn, config_id)


@router.patch("/{config_id}", response_model=NumberOut)
async def update_number(
    config_id: int, body: NumberFields, request: Request, conn: Conn = Depends(db_conn)
):
    """Change fields of a configuration; omitted fields (and secrets) keep their value."""
    current = await _by_id(conn, config_id)
    await service.configure(
        conn,
        user_id=current["user_id"],
        webhook_url=request.app.state.settings.webhook_url,
        **body.model_dump(),
    )
    return await _by_id(conn, config_id)


@router.delete("/{config_id}", status_code=204)
async def delete_number(config_id: int, conn: Conn = Depends(db_conn)) -> Response:
    current = await _by_id(conn, config_id)
    await service.delete_configuration(conn, user_id=current["user_id"])
    return Response(status_code=204)


@router.post("/{config_id}/checks")
async def run_checks(
    config_id: int, request: Request, subscribe: bool = True, conn: Conn = Depends(db_conn)
) -> dict[str, Any]:
    """Ask Meta about the token, the number and the webhooks subscription (subscribing the app on
    the business account unless `subscribe=false`) and check the callback URL; docs/going-live.md."""
    current = await _by_id(conn, config_id)
    config = await service.get_by_user_id(conn, user_id=current["user_id"])
    assert config is not None
    results = await checks.run_checks(
        config,
        public_url=request.app.state.settings.public_url,
        subscribe=subscribe,
        graph=request.app.state.settings.graph_api,
    )
    return {
        "config_id": config_id,
        "status": checks.worst(results),
        "checks": [r.as_dict() for r in results],
    }
