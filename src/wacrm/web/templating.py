"""The Jinja2 environment (autoescaped) and the page renderer with the layout's context."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from wacrm import i18n
from wacrm.accounts.deps import AgentScope, CurrentUser, request_connection
from wacrm.contacts import csvfile, imports
from wacrm.i18n import labels
from wacrm.numbers import health
from wacrm.web.deps import list_agents
from wacrm.web.viewer import resolve as resolve_viewer

TEMPLATES_DIR = Path(__file__).parent / "templates"
SWAP_ERROR_HEADER = "X-Swap-Error"

env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,  # everything is escaped unless a template says otherwise (none do)
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
    extensions=["jinja2.ext.i18n"],
)
# `_()`, `gettext`, `ngettext` and `{% trans %}` translate into the viewer's language (newstyle:
# `_("%(n)s items", n=3)` formats and escapes its variables).
env.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext
)


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value else ""


def _local_day_key(value: datetime | None) -> str:
    """The viewer's calendar day of an instant, as YYYY-MM-DD (day separators group by it)."""
    return i18n.local(value).strftime("%Y-%m-%d") if value else ""


env.filters.update(
    time=i18n.format_time,
    day=i18n.format_day,
    date=i18n.format_date,
    datetime=i18n.format_datetime,
    iso=_iso,
    day_key=_local_day_key,
    short_when=i18n.format_short_when,
    number=i18n.format_number,
    money=i18n.format_money,
)
env.globals.update(
    viewer=i18n.viewer,
    LANGUAGES=i18n.LANGUAGES,
    status_label=labels.order_status,
    media_state=labels.media_state,
    order_source=labels.order_source,
    broadcast_state=labels.broadcast_state,
    import_row_error=csvfile.row_message,
    import_failure=imports.failure_message,
)


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
    await resolve_viewer(request)
    agents = await list_agents(request, user) if user is not None else []
    if scope is not None and not template.startswith("partials/"):
        async with request_connection(request) as conn:
            context["cannot_send"] = await health.cannot_send(conn, scope.agent_id)
    text = env.get_template(template).render(
        request=request,
        user=user,
        scope=scope,
        agents=agents,
        csrf_token=user.csrf_token if user else "",
        nav=context.pop("nav", ""),
        **context,
    )
    if status_code >= 400 and template.startswith("partials/"):
        # a form re-rendered with its error: htmx swaps it in (app.js) like a success
        headers = {**(headers or {}), SWAP_ERROR_HEADER: "true"}
    return HTMLResponse(text, status_code=status_code, headers=headers)


def fragment(template: str, **context: Any) -> str:
    """Render a partial template to text (no layout)."""
    return env.get_template(template).render(**context)
