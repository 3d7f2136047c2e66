"""Web test helpers: users with passwords and a signed-in httpx client."""

from __future__ import annotations

import re
from typing import Any

import httpx

PASSWORD = "correct horse battery staple"


async def user_with_password(
    conn: Any, email: str, *, role: str = "agent", agent: bool = True
) -> dict[str, Any]:
    """A user with PASSWORD (and, for agents, a provisioned agent): {"user", "agent", "tables"}."""
    from wacrm.accounts.service import create_user
    from wacrm.agents.service import create_agent
    from wacrm.agents.tables import AgentTables

    user = await create_user(
        conn, email=email, name=email.split("@")[0].title(), role=role, password=PASSWORD
    )
    out: dict[str, Any] = {"user": user, "agent": None, "tables": None}
    if agent:
        row = await create_agent(conn, created_by=user["id"], user_id=user["id"])
        out.update(agent=row, tables=AgentTables(row["id"], row["agent_prefix"]))
    return out


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "the page has no csrf-token meta tag"
    return match.group(1)


def login_csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the sign-in page has no csrf_token field"
    return match.group(1)


async def post_login(client: httpx.AsyncClient, data: dict[str, str]) -> httpx.Response:
    """Post the sign-in form as a browser does: open the page first (its pre-session token)."""
    page = await client.get("/login")
    return await client.post("/login", data={"csrf_token": login_csrf_of(page.text), **data})


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the CSRF token of the session."""
    response = await post_login(client, {"email": email, "password": password})
    assert response.status_code == 303, response.text
    page = await client.get("/inbox")
    return csrf_of(page.text)
