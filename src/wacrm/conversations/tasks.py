"""The conversations' periodic jobs: snoozed conversations reopen when their time comes, and the
kept counts per status are folded (one row per key instead of one per change)."""

from __future__ import annotations

import logging
from datetime import timedelta

from wacrm.conversations import filters, snooze
from wacrm.jobs import context, periodic

log = logging.getLogger(__name__)


@periodic("conversations.wake_snoozed", every=timedelta(seconds=20))
async def wake_snoozed() -> None:
    """Reopen the conversations whose snoozed_until has passed."""
    async with context.current().pool.connection() as conn:
        woken = await snooze.wake_due(conn)
    if woken:
        log.info("%d snoozed conversations reopened", woken)


@periodic("conversations.fold_counts", every=timedelta(seconds=30))
async def fold_counts() -> None:
    """Fold the counts' change rows, so reading a count sums a few rows."""
    async with context.current().pool.connection() as conn:
        folded = await filters.fold_counts(conn)
    log.debug("%d count rows folded", folded)
