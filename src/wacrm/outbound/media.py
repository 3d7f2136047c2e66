"""Files uploaded by agents for sending: type and size checked against Meta's limits, kept until sent."""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from wacrm.outbound.service import OutboundError

MB = 1024 * 1024
# Meta's accepted types and size limits per message type.
LIMITS: dict[str, tuple[frozenset[str] | None, int]] = {
    "image": (frozenset({"image/jpeg", "image/png"}), 5 * MB),
    "video": (frozenset({"video/mp4", "video/3gpp"}), 16 * MB),
    "audio": (
        frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}),
        16 * MB,
    ),
    "sticker": (frozenset({"image/webp"}), 500 * 1024),
    "document": (None, 100 * MB),
}


def check(kind: str, mime_type: str, size: int) -> None:
    """Raise OutboundError (422/413) when WhatsApp would refuse this file as `kind`."""
    if kind not in LIMITS:
        raise OutboundError(f"kind must be one of {', '.join(LIMITS)}")
    types, limit = LIMITS[kind]
    base = mime_type.split(";")[0].strip().lower()
    if types is not None and base not in types:
        raise OutboundError(
            f"WhatsApp accepts {kind} files of type {', '.join(sorted(types))}, not {mime_type}",
            415,
        )
    if size == 0:
        raise OutboundError("the file is empty")
    if size > limit:
        raise OutboundError(
            f"a {kind} may be at most {limit // 1024} KB; this file has {size // 1024} KB", 413
        )


async def store(
    conn: AsyncConnection[Any],
    *,
    agent_id: int,
    kind: str,
    filename: str,
    mime_type: str,
    data: bytes,
    uploaded_by: UUID | None,
) -> dict[str, Any]:
    """Check and keep an uploaded file; returns its row without the bytes."""
    check(kind, mime_type, len(data))
    name = (filename or "file").replace("/", "_").replace("\\", "_")[:200]
    cur = await conn.execute(
        """INSERT INTO outbound_media (agent_id, kind, filename, mime_type, size, sha256, data, uploaded_by)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
           RETURNING id, kind, filename, mime_type, size, sha256, created_at""",
        (
            agent_id,
            kind,
            name,
            mime_type,
            len(data),
            hashlib.sha256(data).hexdigest(),
            data,
            uploaded_by,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return dict(row)
