"""Downloading inbound media from the Graph API into the media store."""

from __future__ import annotations

import base64
import hashlib
import logging
from datetime import timedelta
from typing import Any

import httpx
from psycopg import AsyncConnection

from wacrm.agents.tables import AgentTables
from wacrm.config import Settings
from wacrm.media.store import MediaStore, media_key
from wacrm.numbers import service as numbers
from wacrm.realtime.events import notify_sql

log = logging.getLogger(__name__)

# a downloaded file's message is ready, and its event
_READY = (
    """WITH u AS (
  UPDATE {messages} SET media_status = 'ready', media_error = NULL, media_url = %(url)s,
    media_size = %(size)s, media_mime_type = coalesce(media_mime_type, %(mime)s)
  WHERE id = %(id)s AND deleted_at IS NULL RETURNING id, customer_id)
SELECT """
    + notify_sql(
        agent_id="%(agent)s", kind="'message'", customer_id="u.customer_id", message_id="u.id"
    )
    + " FROM u"
)
MAX_ATTEMPTS = 6
MAX_BYTES = 100 * 1024 * 1024


class MediaDownloadError(Exception):
    """A download that failed (the message is shown to users)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def backoff(attempt: int) -> timedelta:
    """5 s, 10 s, 20 s, 40 s, 80 s: media ids expire after days, so retries stay near."""
    return timedelta(seconds=5 * 2 ** min(attempt, 6))


def sha256_matches(data: bytes, expected: str | None) -> bool:
    """Meta's sha256 may be hex or base64; an empty expectation always matches."""
    if not expected:
        return True
    digest = hashlib.sha256(data).digest()
    return expected.strip().lower() == digest.hex() or expected.strip() in (
        base64.b64encode(digest).decode(),
        base64.urlsafe_b64encode(digest).decode(),
    )


async def fetch(
    settings: Settings, *, media_id: str, access_token: str, expected_sha256: str | None
) -> tuple[bytes, str | None]:
    """(bytes, mime type) of a media id: `GET /{media-id}`, then its URL, both with the bearer token."""
    headers = {"Authorization": f"Bearer {access_token}"}
    base = f"{settings.whatsapp_api_base_url}/v{settings.whatsapp_api_version}"
    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0), trust_env=False) as http:
        info = await http.get(f"{base}/{media_id}", headers=headers)
        if info.status_code in (400, 404):
            raise MediaDownloadError(
                f"WhatsApp does not know media {media_id} (expired?): {info.text[:200]}",
                permanent=True,
            )
        if info.status_code >= 400:
            raise MediaDownloadError(
                f"media info request answered {info.status_code}: {info.text[:200]}"
            )
        meta = info.json()
        url = meta.get("url")
        if not url:
            raise MediaDownloadError("the media info has no download URL", permanent=True)
        got = await http.get(url, headers=headers)
        if got.status_code >= 400:
            raise MediaDownloadError(f"media download answered {got.status_code}")
        data = got.content
    if len(data) > MAX_BYTES:
        raise MediaDownloadError("the file is larger than 100 MB", permanent=True)
    if not sha256_matches(data, expected_sha256 or meta.get("sha256")):
        raise MediaDownloadError("the downloaded file does not match its sha256 checksum")
    return data, meta.get("mime_type")


async def _agent_tables(conn: AsyncConnection[Any], agent_id: int) -> AgentTables | None:
    cur = await conn.execute("SELECT agent_prefix FROM agents WHERE id = %s", (agent_id,))
    row = await cur.fetchone()
    return AgentTables(agent_id, row["agent_prefix"]) if row else None


async def download(
    conn: AsyncConnection[Any],
    *,
    settings: Settings,
    store: MediaStore,
    payload: dict[str, Any],
    attempt: int = 0,
) -> str:
    """Run one download job; the message's new media_status ('ready', 'retrying' or 'failed').

    Returns 'retrying' when the caller should run it again after `backoff(attempt)`.
    """
    agent_id = int(payload["agent_id"])
    tables = await _agent_tables(conn, agent_id)
    if tables is None:
        return "failed"
    cur = await conn.execute(
        tables.query(
            "SELECT id, media_status, media_id, media_sha256, deleted_at FROM {messages} "
            "WHERE wamid = %s"
        ),
        (payload["wamid"],),
    )
    msg = await cur.fetchone()
    if msg is None or msg["media_status"] == "ready":
        return "ready" if msg else "failed"
    if msg["deleted_at"] is not None:  # the customer deleted it: nothing to fetch any more
        return "failed"
    try:
        cfg = await numbers.get_by_agent_id(conn, agent_id=agent_id)
        if cfg is None or not cfg.get("access_token"):
            raise MediaDownloadError("the agent's WhatsApp number has no access token")
        data, mime = await fetch(
            settings,
            media_id=msg["media_id"] or payload["media_id"],
            access_token=cfg["access_token"],
            expected_sha256=msg["media_sha256"],
        )
        try:
            await store.put(media_key(agent_id, msg["id"]), data)
        except OSError as exc:  # full disk, unwritable folder: retried like a failed download
            raise MediaDownloadError(
                f"the media store cannot write the file ({exc.strerror or exc}); "
                "check the media folder's space and permissions"
            ) from exc
    except (MediaDownloadError, httpx.HTTPError, ValueError) as exc:
        final = getattr(exc, "permanent", False) or attempt + 1 >= MAX_ATTEMPTS
        status = "failed" if final else "retrying"
        error = str(exc) or type(exc).__name__
        log.warning("media download for message %s: %s (%s)", msg["id"], error, status)
        await conn.execute(
            tables.query("UPDATE {messages} SET media_status = %s, media_error = %s WHERE id = %s"),
            (status, f"{error} (attempt {attempt + 1})", msg["id"]),
        )
        return status
    async with conn.transaction():
        cur = await conn.execute(
            tables.query(_READY),
            {
                "url": f"/api/v1/media/{msg['id']}",
                "size": len(data),
                "mime": mime,
                "id": msg["id"],
                "agent": agent_id,
            },
        )
        marked = await cur.fetchone()
    if marked is None:  # deleted by the customer while it downloaded: the file goes too
        await store.delete(media_key(agent_id, msg["id"]))
        return "failed"
    return "ready"
