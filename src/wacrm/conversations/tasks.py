"""The conversations' periodic job: snoozed conversations reopen when their time comes."""

from __future__ import annotations

import logging
from datetime import timedelta

from wacrm.conversations import snooze
from wacrm.jobs import context, periodic

log = logging.getLogger(__name__)


@periodic("conversations.wake_snoozed", every=timedelta(seconds=20))
async def wake_snoozed() -> None:
    """Reopen the conversations whose snoozed_until has passed."""
    async with context.current().pool.connection() as conn:
        woken = await snooze.wake_due(conn)
    if woken:
        log.info("%d snoozed conversations reopened", woken)
