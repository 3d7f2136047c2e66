"""Files uploaded by agents for sending: type and size checked against Meta's limits, kept until sent."""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from wacrm.i18n.labels import media_kind_text
from wacrm.i18n.text import Text
from wacrm.outbound.refusals import OutboundError

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
    "document": (
        frozenset(
            {
                "text/plain",
                "application/pdf",
                "application/msword",
                "application/vnd.ms-excel",
                "application/vnd.ms-powerpoint",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            }
        ),
        100 * MB,
    ),
}
# What the first bytes of each media type must look like (a renamed .exe or HTML is refused).
_ZIP = (b"PK\x03\x04",)
_OLE = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)
MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
    "audio/amr": (b"#!AMR",),
    "audio/ogg": (b"OggS",),
    "audio/mpeg": (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\xff\xe3"),
    "audio/aac": (b"\xff\xf1", b"\xff\xf9", b"ADIF"),
    "application/pdf": (b"%PDF-",),
    "application/msword": _OLE,
    "application/vnd.ms-excel": _OLE,
    "application/vnd.ms-powerpoint": _OLE,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": _ZIP,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": _ZIP,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": _ZIP,
}
_FTYP = frozenset({"video/mp4", "video/3gpp", "audio/mp4"})  # ISO base media: "ftyp" at offset 4


def content_matches(mime: str, data: bytes) -> bool:
    """Whether the bytes look like the declared type (plain text: no NUL and no markup at the start)."""
    if mime in _FTYP:
        return data[4:8] == b"ftyp"
    if mime == "image/webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    if mime == "text/plain":
        head = data[:1024].lstrip().lower()
        return b"\x00" not in data[:1024] and not head.startswith((b"<", b"mz"))
    prefixes = MAGIC.get(mime)
    return prefixes is None or data.startswith(prefixes)


def safe_filename(name: str | None) -> str:
    """The last path segment without control characters, at most 200 characters ('file' if nothing is left)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip().lstrip(".")
    return base[:200] or "file"


def check(kind: str, mime_type: str, size: int, data: bytes | None = None) -> None:
    """Raise OutboundError (422/413) when WhatsApp would refuse this file as `kind`."""
    if kind not in LIMITS:
        raise OutboundError(Text("kind must be one of {kinds}", kinds=list(LIMITS)))
    types, limit = LIMITS[kind]
    base = mime_type.split(";")[0].strip().lower()
    if types is not None and base not in types:
        raise OutboundError(
            Text(
                "WhatsApp accepts {kind} files of type {types}, not {mime}",
                kind=media_kind_text(kind),
                types=sorted(types),
                mime=mime_type,
            ),
            415,
        )
    if size == 0:
        raise OutboundError(Text("the file is empty"))
    if data is not None and not content_matches(base, data):
        raise OutboundError(
            Text(
                "the file's content is not {mime} (its first bytes do not match the declared type)",
                mime=base,
            ),
            415,
        )
    if size > limit:
        raise OutboundError(
            Text(
                "a file of type {kind} may be at most {limit} KB; this file has {size} KB",
                kind=media_kind_text(kind),
                limit=limit // 1024,
                size=size // 1024,
            ),
            413,
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
    check(kind, mime_type, len(data), data)
    name = safe_filename(filename)
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
