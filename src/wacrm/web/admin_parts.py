"""What each admin section lists beside the users: agents (a page), numbers, the webhook journal."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from psycopg import AsyncConnection

from wacrm.agents import service as agents
from wacrm.inbound import journal
from wacrm.web import numbers_overview
from wacrm.web.callback import callback_url

JOURNAL_PAGE = 50
AGENTS_PAGE = 50


async def section_context(
    request: Request,
    conn: AsyncConnection[Any],
    section: str,
    users: list[dict[str, Any]],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The section's own lists (`extra`: the page number, the journal status asked for)."""
    out: dict[str, Any] = {}
    if section == "agents":
        page = extra.get("page", 1)
        out["agent_rows"] = await agents.list_agents(
            conn, with_counts=True, limit=AGENTS_PAGE, offset=(page - 1) * AGENTS_PAGE
        )
        out["agents_total"] = await agents.count_agents(conn)
        # each row offers its own user and the users without an agent (not every user: a
        # loop over all users per row of the page)
        out["user_of_agent"] = {u["agent_id"]: u for u in users if u["agent_id"]}
        out["page"], out["page_size"] = page, AGENTS_PAGE
    elif section == "numbers":
        out["configs"] = await numbers_overview.configs(conn)
        out["configured_users"] = {str(c["user_id"]) for c in out["configs"]}
        out["callback"] = callback_url(request)
    elif section == "webhooks":
        status = extra.get("status") or None
        # a replica; the page's own connection when the read goes to the primary
        async with request.app.state.reads.connection("journal", held=conn) as read:
            out["journal"] = await journal.list_journal(read, status=status, limit=JOURNAL_PAGE)
        out["pretty"] = lambda body: (
            orjson.dumps(body, option=orjson.OPT_INDENT_2).decode()
            if not isinstance(body, str)
            else body
        )
    return out
