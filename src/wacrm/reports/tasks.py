"""The reports' periodic job: the dashboard's rollups kept up to date (wacrm.reports.rollup for
settled days, wacrm.reports.recent for the all-agents view)."""

from __future__ import annotations

import logging
from datetime import timedelta

from wacrm.jobs import context, periodic
from wacrm.reports import recent

log = logging.getLogger(__name__)


@periodic("reports.rollup", every=timedelta(minutes=1))
async def refresh_rollup() -> None:
    """Fill the settled days of every agent behind or marked stale, then count the recent days
    and orders of every agent whose tables changed."""
    cycle = await recent.refresh_everything(context.current().pool)
    if cycle.refreshed or cycle.counted:
        log.info(
            "dashboard rollup: settled days filled for %d agents, recent days counted for %d",
            cycle.refreshed,
            cycle.counted,
        )
