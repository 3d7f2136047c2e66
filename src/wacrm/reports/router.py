"""Reports API: GET /api/v1/reports/members (per-member figures of the workspace)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

from wacrm.accounts.deps import AgentScope, agent_scope
from wacrm.reports import members as member_reports
from wacrm.reports.service import ReportError

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


class MemberFigures(BaseModel):
    user_id: UUID
    name: str | None
    role: str
    resolved: int
    replies: int
    responses: int
    median_first_response_seconds: float | None


@router.get("/members", response_model=list[MemberFigures])
async def members_report(
    scope: AgentScope = Depends(agent_scope),
    start: date | None = Query(
        None, alias="from", description="first UTC day (default: 6 days ago)"
    ),
    end: date | None = Query(None, alias="to", description="last UTC day (default: today)"),
) -> list[dict[str, Any]]:
    """Per member: conversations resolved, replies sent, median first response time (seconds)."""
    today = datetime.now(UTC).date()
    last = end or today
    first = start or last - timedelta(days=6)
    try:
        return await member_reports.member_figures(
            scope.db, tables=scope.tables, start=first, end=last
        )
    except ReportError as exc:
        raise HTTPException(400, detail=str(exc)) from exc
