"""The reports' periodic job: the dashboard's daily rollup kept up to date (wacrm.reports.rollup)."""

from __future__ import annotations

import logging
from datetime import timedelta

from wacrm.jobs import context, periodic
from wacrm.reports import rollup

log = logging.getLogger(__name__)


@periodic("reports.rollup", every=timedelta(minutes=5))
async def refresh_rollup() -> None:
    """Fill the settled days of every agent whose rollup is behind or marked stale."""
    async with context.current().pool.connection() as conn:
        refreshed = await rollup.refresh_all(conn)
    if refreshed:
        log.info("dashboard rollup refreshed for %d agents", refreshed)
