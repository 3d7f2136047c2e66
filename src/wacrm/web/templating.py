"""The Jinja2 environment (autoescaped) and the page renderer with the layout's context."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from wacrm.accounts.deps import AgentScope, CurrentUser
from wacrm.web.deps import list_agents

TEMPLATES_DIR = Path(__file__).parent / "templates"

env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,  # everything is escaped unless a template says otherwise (none do)
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def _time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%H:%M") if value else ""


def _day(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%a %d %b %Y") if value else ""


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value else ""


def _short_when(value: datetime | None) -> str:
    """Time today, else the date (the inbox column)."""
    if value is None:
        return ""
    now = datetime.now(UTC)
    value = value.astimezone(UTC)
    if value.date() == now.date():
        return value.strftime("%H:%M")
    if value.year == now.year:
        return value.strftime("%d %b")
    return value.strftime("%d %b %Y")


env.filters.update(time=_time, day=_day, iso=_iso, short_when=_short_when)


async def render(
    request: Request,
    template: str,
    *,
    user: CurrentUser | None = None,
    scope: AgentScope | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a template; full pages get the layout context (user, workspace, agents for admins)."""
    agents = await list_agents(request) if user is not None and user.is_admin else []
    text = env.get_template(template).render(
        request=request,
        user=user,
        scope=scope,
        agents=agents,
        csrf_token=user.csrf_token if user else "",
        nav=context.pop("nav", ""),
        **context,
    )
    return HTMLResponse(text, status_code=status_code, headers=headers)


def fragment(template: str, **context: Any) -> str:
    """Render a partial template to text (no layout)."""
    return env.get_template(template).render(**context)
