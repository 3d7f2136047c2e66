"""What each admin section lists: users, agents, numbers (a page each), the webhook journal.

Every section reads a page and a bounded list of choices, in a fixed number of statements
whatever the number of users and agents, and never an agent's own tables.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
from fastapi import HTTPException, Request
from psycopg import AsyncConnection

from wacrm.accounts import service as accounts
from wacrm.agents import service as agents
from wacrm.agents import totals
from wacrm.i18n import gettext as _
from wacrm.inbound import journal
from wacrm.web import numbers_overview
from wacrm.web.callback import callback_url

JOURNAL_PAGE = 50
AGENTS_PAGE = 50
USERS_PAGE = 50
NUMBERS_PAGE = 20
CHOICES = 100  # users offered in a "link a user" or "new number" menu


def chosen_user(value: str) -> UUID:
    """The user id a form's menu sent (400 when it is not one)."""
    try:
        return UUID(value.strip())
    except ValueError as exc:
        raise HTTPException(400, detail=_("choose a user from the list")) from exc


def _paging(extra: dict[str, Any], size: int) -> dict[str, Any]:
    page = extra.get("page") or 1
    return {"page": page, "page_size": size, "offset": (page - 1) * size}


async def users_section(conn: AsyncConnection[Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = _paging(extra, USERS_PAGE)
    out["users"] = await accounts.list_users(conn, limit=USERS_PAGE, offset=out["offset"])
    out["users_total"] = await accounts.count_users(conn)
    return out


async def agents_section(conn: AsyncConnection[Any], extra: dict[str, Any]) -> dict[str, Any]:
    """A page of agents with their kept totals; each row offers its own user and the users
    without an agent (the first CHOICES of them)."""
    out = _paging(extra, AGENTS_PAGE)
    rows = await agents.list_agents(
        conn, with_counts=False, limit=AGENTS_PAGE, offset=out["offset"]
    )
    kept = await totals.totals(conn, [a["id"] for a in rows])
    for a in rows:
        a["counts"] = kept.get(a["id"])
    out["agent_rows"] = rows
    out["agents_total"] = await agents.count_agents(conn)
    out["free"], out["free_total"] = await accounts.users_without(conn, "agent", limit=CHOICES)
    return out


async def numbers_section(
    request: Request, conn: AsyncConnection[Any], extra: dict[str, Any]
) -> dict[str, Any]:
    """A page of configurations (the one a form error is about first, when it is elsewhere)."""
    out = _paging(extra, NUMBERS_PAGE)
    configs = await numbers_overview.configs(conn, limit=NUMBERS_PAGE, offset=out["offset"])
    sent = (extra.get("number_form") or {}).get("user_id")
    if sent and all(str(c["user_id"]) != sent for c in configs):
        configs = await numbers_overview.configs(conn, user_id=sent) + configs
    out["configs"] = configs
    out["configs_total"] = await numbers_overview.count(conn)
    out["configured_users"] = {str(c["user_id"]) for c in configs}
    out["free"], out["free_total"] = await accounts.users_without(conn, "number", limit=CHOICES)
    out["callback"] = callback_url(request)
    return out


async def webhooks_section(
    request: Request, conn: AsyncConnection[Any], extra: dict[str, Any]
) -> dict[str, Any]:
    """Journal rows newest first, JOURNAL_PAGE at a time (`before`: the page after that id)."""
    out: dict[str, Any] = {}
    status = extra.get("status") or None
    # a replica; the page's own connection when the read goes to the primary
    async with request.app.state.reads.connection("journal", held=conn) as read:
        out["journal"] = await journal.list_journal(
            read, status=status, limit=JOURNAL_PAGE, before_id=extra.get("before")
        )
    full = len(out["journal"]) == JOURNAL_PAGE
    out["older"] = out["journal"][-1]["id"] if full else None
    out["pretty"] = lambda body: (
        orjson.dumps(body, option=orjson.OPT_INDENT_2).decode()
        if not isinstance(body, str)
        else body
    )
    return out


async def section_context(
    request: Request, conn: AsyncConnection[Any], section: str, extra: dict[str, Any]
) -> dict[str, Any]:
    """The section's own lists (`extra`: the page number, the journal status asked for)."""
    if section == "users":
        return await users_section(conn, extra)
    if section == "agents":
        return await agents_section(conn, extra)
    if section == "numbers":
        return await numbers_section(request, conn, extra)
    if section == "webhooks":
        return await webhooks_section(request, conn, extra)
    return {}
