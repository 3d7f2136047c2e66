"""The inbound package's periodic jobs: journal retention (wacrm.inbound.journal) and the
sweep of stranded early statuses (wacrm.inbound.early)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from wacrm.inbound.early import sweep_early_changes, sweep_early_statuses
from wacrm.inbound.journal import prune_journal
from wacrm.jobs import context, periodic

log = logging.getLogger(__name__)


@periodic("inbound.prune_journal", every=timedelta(hours=1))
async def prune_processed_webhooks() -> None:
    """Remove processed webhooks older than WACRM_JOURNAL_RETENTION_DAYS (0 keeps them all)."""
    ctx = context.current()
    days = ctx.settings.journal_retention_days
    if days == 0:
        return
    async with ctx.pool.connection() as conn:
        deleted = await prune_journal(conn, older_than=timedelta(days=days), now=datetime.now(UTC))
    if deleted:
        log.info("webhook journal: %d processed rows older than %d days removed", deleted, days)


@periodic("inbound.sweep_early_statuses", every=timedelta(seconds=30))
async def apply_stranded_early_statuses() -> None:
    """Apply early statuses that the messages' trigger missed (wacrm.inbound.early)."""
    async with context.current().pool.connection() as conn:
        changed = await sweep_early_statuses(conn)
        edited = await sweep_early_changes(conn)
    if changed:
        log.info("early statuses applied to %d messages after their wamid was recorded", changed)
    if edited:
        log.info("early edits/deletions applied to %d messages after they were stored", edited)
