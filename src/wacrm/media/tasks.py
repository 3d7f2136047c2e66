"""The `media.download` job (queued by the webhook in the same transaction as the message), and the
periodic removal of revoked messages' files."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from wacrm.jobs import Retry, current_attempt, entrypoint, periodic
from wacrm.jobs.context import current
from wacrm.media import service
from wacrm.media.erasure import erase_revoked
from wacrm.media.store import media_store


@entrypoint("media.download", concurrency_limit=8)
async def download_media(payload: dict[str, Any]) -> None:
    ctx = current()
    attempt = current_attempt()
    async with ctx.pool.connection() as conn:
        status = await service.download(
            conn,
            settings=ctx.settings,
            store=media_store(ctx.settings),
            payload=payload,
            attempt=attempt,
        )
    if status == "retrying":
        raise Retry(
            service.backoff(attempt), reason="media download failed; retrying with back-off"
        )


@periodic("media.erase_revoked", every=timedelta(seconds=30))
async def erase_revoked_media() -> None:
    """Remove the stored files of messages their customers deleted."""
    ctx = current()
    async with ctx.pool.connection() as conn:
        erased = await erase_revoked(conn, store=media_store(ctx.settings))
    if erased:
        logging.getLogger(__name__).info("%d deleted messages' media files removed", erased)
