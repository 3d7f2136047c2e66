"""The `media.download` job (queued by the webhook in the same transaction as the message)."""

from __future__ import annotations

from typing import Any

from wacrm.jobs import Retry, current_attempt, entrypoint
from wacrm.jobs.context import current
from wacrm.media import service
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
