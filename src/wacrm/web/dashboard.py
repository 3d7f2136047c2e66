"""The dashboard: messages per day, response time, new customers, orders and revenue per status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from wacrm.accounts.deps import AgentScope
from wacrm.reports import everyone as all_agents
from wacrm.reports import service as reports
from wacrm.web.deps import web_scope
from wacrm.web.orders import parse_day
from wacrm.web.templating import render

router = APIRouter(include_in_schema=False)
PERIODS = (7, 30, 90)


def duration(seconds: float | None) -> str:
    """A response time for people: 45 s, 12 min, 3.5 h, 2.0 d."""
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    scope: AgentScope = Depends(web_scope),
    days: str = Query("7", pattern="^(7|30|90|custom)$"),
    start: str = Query("", alias="from", max_length=20),
    end: str = Query("", alias="to", max_length=20),
    agents: str = Query("", pattern="^(|all)$"),
) -> Response:
    """One agent's figures (the workspace), or every agent's together (admins: agents=all)."""
    everyone = agents == "all"
    if everyone and not scope.user.is_admin:
        raise HTTPException(404, detail="only administrators see the figures of all agents")
    today = datetime.now(UTC).date()
    if days == "custom":
        first, last = parse_day(start, "from"), parse_day(end, "to")
        if first is None or last is None:
            raise HTTPException(400, detail="a custom period needs both dates, from and to")
    else:
        first, last = today - timedelta(days=int(days) - 1), today
    async with request.app.state.pool.connection() as conn:
        try:
            if everyone:  # from the shared rollup, as of each agent's last count
                data = await all_agents.report(conn, start=first, end=last)
            else:
                data = await reports.report(conn, targets=[scope.tables], start=first, end=last)
        except reports.ReportError as exc:
            raise HTTPException(exc.status, detail=str(exc)) from exc
    chart: dict[str, Any] = {
        "days": data["days"],
        "messagesIn": data["messages_in"],
        "messagesOut": data["messages_out"],
        "newCustomers": data["new_customers"],
        "orders": [
            {
                "status": o["status"],
                "currency": o["currency"],
                "count": o["count"],
                "total": float(o["total"]),
            }
            for o in data["orders"]
        ],
    }
    return await render(
        request,
        "dashboard.html",
        user=scope.user,
        scope=scope,
        nav="dashboard",
        data=data,
        chart=chart,
        days=days,
        first=first,
        last=last,
        everyone=everyone,
        periods=PERIODS,
        revenue=reports.revenue(data["orders"]),
        response_time=duration(data["response_median_seconds"]),
    )
