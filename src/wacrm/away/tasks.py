"""Queue due greetings and away messages (recorded by the inbound trigger of migration 0093)."""

from __future__ import annotations

from datetime import timedelta

from wacrm.away import service
from wacrm.jobs import context, periodic


@periodic("away.queue_due", every=timedelta(milliseconds=500))
async def queue_due_task() -> None:
    async with context.current().pool.connection() as conn:
        while await service.queue_due(conn) == 100:
            pass
