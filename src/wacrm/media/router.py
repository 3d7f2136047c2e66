"""`GET /api/v1/media/{message_id}`: our copy of a message's media, for the agent's users only."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from psycopg import AsyncConnection

from wacrm.accounts.deps import AgentScope, agent_scope, db_conn
from wacrm.media.store import media_key, media_store

router = APIRouter(prefix="/api/v1/media", tags=["media"])
_INLINE = ("image/", "audio/", "video/")
_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


def safe_headers(
    mime: str | None, filename: str | None, message_id: int
) -> tuple[str, dict[str, str]]:
    """(content type, headers): never HTML or SVG inline; anything not image/audio/video is an attachment."""
    base = (mime or "").split(";")[0].strip().lower()
    if not _MIME.fullmatch(base):
        base = "application/octet-stream"
    active = base.startswith("text/") or any(
        w in base for w in ("html", "xml", "javascript", "svg")
    )
    inline = base.startswith(_INLINE) and not active
    content_type = "application/octet-stream" if active else base
    name = (
        re.sub(r"[^A-Za-z0-9._ -]", "_", filename or f"media-{message_id}")[:150]
        or f"media-{message_id}"
    )
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=3600",
        "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{name}"',
    }
    return content_type, headers


@router.get("/{message_id}", responses={200: {"content": {"application/octet-stream": {}}}})
async def get_media(
    message_id: int,
    request: Request,
    scope: AgentScope = Depends(agent_scope),
    conn: AsyncConnection[Any] = Depends(db_conn),
) -> Response:
    cur = await conn.execute(
        scope.tables.query(
            "SELECT id, media_status, media_error, media_mime_type, media_filename, direction,"
            " payload->>'media_id' AS outbound_media_id FROM {messages} WHERE id = %s"
        ),
        (message_id,),
    )
    msg = await cur.fetchone()
    if msg is not None and msg["direction"] == "outbound" and msg["outbound_media_id"]:
        return await _sent_file(conn, scope, msg)
    if msg is None or msg["media_status"] is None:
        raise HTTPException(404, detail=f"message {message_id} has no media for this agent")
    if msg["media_status"] != "ready":
        detail = f"the media of message {message_id} is not downloaded yet ({msg['media_status']})"
        if msg["media_error"]:
            detail += f": {msg['media_error']}"
        raise HTTPException(409, detail=detail)
    data = await media_store(request.app.state.settings).get(media_key(scope.agent_id, message_id))
    if data is None:
        raise HTTPException(404, detail=f"the stored file of message {message_id} is missing")
    content_type, headers = safe_headers(msg["media_mime_type"], msg["media_filename"], message_id)
    return Response(content=data, media_type=content_type, headers=headers)


async def _sent_file(
    conn: AsyncConnection[Any], scope: AgentScope, msg: dict[str, Any]
) -> Response:
    """A file the agent sent: the uploaded copy kept in outbound_media (this agent's only)."""
    media_id = msg["outbound_media_id"]
    cur = await conn.execute(
        "SELECT data, mime_type, filename FROM outbound_media WHERE id = %s AND agent_id = %s",
        (int(media_id) if str(media_id).isdigit() else -1, scope.agent_id),
    )
    row = await cur.fetchone()
    if row is None or row["data"] is None:
        raise HTTPException(404, detail=f"the sent file of message {msg['id']} is not kept")
    content_type, headers = safe_headers(row["mime_type"], row["filename"], msg["id"])
    return Response(content=bytes(row["data"]), media_type=content_type, headers=headers)
