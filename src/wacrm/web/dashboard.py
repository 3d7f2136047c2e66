"""The dashboard: messages per day, response time, new customers, orders and revenue per status."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from wacrm.accounts.deps import AgentScope
from wacrm.agents.tables import AgentTables
from wacrm.errors import AppError
from wacrm.i18n import gettext as _
from wacrm.i18n import labels
from wacrm.i18n.text import Text
from wacrm.reports import everyone as all_agents
from wacrm.reports import members as member_reports
from wacrm.reports import service as reports
from wacrm.web.deps import web_scope
from wacrm.web.orders import parse_day
from wacrm.web.templating import render
from wacrm.web.viewer import resolve as resolve_viewer

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


def period(
    days: str, start: str, end: str, today: date
) -> tuple[str, date | None, date | None, str | None]:
    """(days, first, last, error): a preset's dates, or the dates typed. Dates that differ from
    the chosen preset's own were edited by hand: they win (the period becomes "custom")."""
    try:
        typed = parse_day(start, "from"), parse_day(end, "to")
    except AppError as exc:  # a date that is not one: the page says so under the dates
        return "custom", None, None, exc.page_detail
    if days != "custom":
        preset = today - timedelta(days=int(days) - 1), today
        if all(typed) and typed != preset:
            days = "custom"
        else:
            return days, preset[0], preset[1], None
    first, last = typed
    if first is None or last is None:
        return days, first, last, _("a custom period needs both dates, From and To")
    if first > last:
        reversed_ = Text(
            "From ({first}) is after To ({last}): choose a From date on or before the To date",
            first=first.isoformat(),
            last=last.isoformat(),
        )
        return days, first, last, str(reversed_)
    return days, first, last, None


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    scope: AgentScope = Depends(web_scope),  # reads the replica: holds no primary connection
    days: str = Query("7", pattern="^(7|30|90|custom)$"),
    start: str = Query("", alias="from", max_length=20),
    end: str = Query("", alias="to", max_length=20),
    agents: str = Query("", pattern="^(|all)$"),
) -> Response:
    """One agent's figures (the workspace), or every agent's together (admins: agents=all)."""
    everyone = agents == "all"
    if everyone and not scope.user.is_admin:
        raise HTTPException(404, detail=_("only administrators see the figures of all agents"))
    viewer = await resolve_viewer(request)
    data = None
    async with request.app.state.reads.connection("dashboard") as conn:
        # Days follow the viewer's time zone: counted live from the agents' tables, or (all
        # agents, beyond MAX_LIVE_AGENTS) summed from the shared quarter-hour rollup.
        targets = (
            await all_agents.few_agents(conn, reports.MAX_LIVE_AGENTS)
            if everyone
            else [scope.tables]
        )
        zone = viewer.time_zone
        today = datetime.now(UTC).astimezone(viewer.tz).date()
        days, first, last, error = period(days, start, end, today)
        if error is None:
            assert first is not None and last is not None
            try:
                data = await _figures(
                    conn, scope, targets, everyone=everyone, start=first, end=last, zone=zone
                )
            except reports.ReportError as exc:
                error = str(exc)
    common: dict[str, Any] = dict(
        user=scope.user,
        scope=scope,
        nav="dashboard",
        days=days,
        first=first,
        last=last,
        everyone=everyone,
        periods=PERIODS,
        error=error,
        zone=zone,
    )
    if data is None:  # the form with its error, inside the layout
        return await render(request, "dashboard.html", status_code=400, data=None, **common)
    return await render(
        request,
        "dashboard.html",
        data=data,
        chart=_chart(data),
        revenue=reports.revenue(data["orders"]),
        response_time=duration(data["response_median_seconds"]),
        duration=duration,
        **common,
    )


async def _figures(
    conn: Any,
    scope: AgentScope,
    targets: list[AgentTables] | None,
    *,
    everyone: bool,
    start: date,
    end: date,
    zone: str,
) -> dict[str, Any]:
    """The figures of the workspace, or of all agents (`targets` None: the shared rollup, as of
    each agent's last count)."""
    if targets is None:
        return await all_agents.report(conn, start=start, end=end, zone=zone)
    data = await reports.report(conn, targets=targets, start=start, end=end, zone=zone)
    data["as_of"] = None  # counted now
    if not everyone:
        data["members"] = await member_reports.member_figures(
            conn, tables=scope.tables, start=start, end=end, zone=zone
        )
    return data


def _chart(data: dict[str, Any]) -> dict[str, Any]:
    """The figures the charts draw (JSON in the page)."""
    return {
        "days": data["days"],
        "messagesIn": data["messages_in"],
        "messagesOut": data["messages_out"],
        "newCustomers": data["new_customers"],
        "text": {
            "in": _("In"),
            "out": _("Out"),
            "newCustomers": _("New customers"),
            "orders": _("Orders"),
            "revenue": _("Revenue"),
        },
        "orders": [
            {
                "status": o["status"],
                "statusLabel": labels.order_status(o["status"]),
                "currency": o["currency"],
                "count": o["count"],
                "total": float(o["total"]),
            }
            for o in data["orders"]
        ],
    }
