"""The earlier versions of a message the customer edited (shown on demand in the chat)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, Response
from psycopg import AsyncConnection

from wacrm.accounts.deps import AgentScope
from wacrm.i18n import gettext as _
from wacrm.web.deps import web_workspace
from wacrm.web.templating import render

router = APIRouter(include_in_schema=False)


async def message_versions(
    conn: AsyncConnection[Any], scope: AgentScope, customer_id: int, message_id: int
) -> list[dict[str, Any]] | None:
    """The versions before the current one, oldest first (None: no such message here)."""
    cur = await conn.execute(
        scope.tables.query(
            "SELECT id FROM {messages} WHERE id = %s AND customer_id = %s AND deleted_at IS NULL"
        ),
        (message_id, customer_id),
    )
    if await cur.fetchone() is None:
        return None
    cur = await conn.execute(
        scope.tables.query(
            "SELECT text, caption, replaced_at FROM {message_versions}"
            " WHERE message_id = %s ORDER BY replaced_at, id"
        ),
        (message_id,),
    )
    return list(await cur.fetchall())


@router.get("/chat/{customer_id}/messages/{message_id}/versions", response_class=HTMLResponse)
async def versions(
    request: Request,
    customer_id: int = Path(..., ge=1, le=2**31 - 1),
    message_id: int = Path(..., ge=1, le=2**31 - 1),
    scope: AgentScope = Depends(web_workspace),
) -> Response:
    found = await message_versions(scope.db, scope, customer_id, message_id)
    if found is None:
        raise HTTPException(404, detail=_("no such message in this conversation"))
    return await render(request, "partials/message_versions.html", scope=scope, versions=found)
