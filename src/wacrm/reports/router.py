"""Reports API: GET /api/v1/reports/members (per-member figures of the workspace)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

from wacrm import i18n
from wacrm.accounts.deps import AgentScope, agent_scope
from wacrm.preferences import service as preferences
from wacrm.reports import members as member_reports

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


class MemberFigures(BaseModel):
    user_id: UUID
    name: str | None
    role: str
    resolved: int
    replies: int
    responses: int
    median_first_response_seconds: float | None


async def _zone(scope: AgentScope, tz: str | None) -> str:
    """The asked time zone (400 when unknown), else the user's saved one, else UTC."""
    if tz:
        zone = i18n.valid_time_zone(tz)
        if zone is None:
            raise HTTPException(400, detail=f"tz: unknown time zone {tz[:64]!r} (an IANA name)")
        return zone
    saved = await preferences.load(scope.db, scope.user.id)
    return i18n.valid_time_zone(saved["time_zone"] if saved else None) or "UTC"


@router.get("/members", response_model=list[MemberFigures])
async def members_report(
    scope: AgentScope = Depends(agent_scope),
    start: date | None = Query(
        None, alias="from", description="first day (default: 6 days ago) in the time zone `tz`"
    ),
    end: date | None = Query(None, alias="to", description="last day (default: today)"),
    tz: str | None = Query(
        None,
        max_length=64,
        description="IANA time zone of the days (default: the user's, from their preferences, else UTC)",
    ),
) -> list[dict[str, Any]]:
    """Per member: conversations resolved, replies sent, median first response time (seconds)."""
    zone = await _zone(scope, tz)
    today = datetime.now(UTC).astimezone(ZoneInfo(zone) if zone != "UTC" else UTC).date()
    last = end or today
    first = start or last - timedelta(days=6)
    return await member_reports.member_figures(
        scope.db, tables=scope.tables, start=first, end=last, zone=zone
    )
