"""A request checks out at most one pooled connection: the user, the workspace, the page's own
reads and the layout's (menu, viewer, cannot-send banner) share the request's (issue 14)."""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.helpers import bearer, make_agent_user
from tests.web.conftest import sign_in, user_with_password

MARK: contextvars.ContextVar[dict[str, int] | None] = contextvars.ContextVar("mark", default=None)


def count_checkouts(app: Any) -> None:
    """Count the pool checkouts made inside a marked request (background tasks are not), and
    the most held at once."""
    pool = app.state.pool
    original = pool.connection

    @asynccontextmanager
    async def counted(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        seen = MARK.get()
        async with original(*args, **kwargs) as conn:
            if seen is None:
                yield conn
                return
            seen["taken"] += 1
            seen["held"] += 1
            seen["most"] = max(seen["most"], seen["held"])
            try:
                yield conn
            finally:
                seen["held"] -= 1

    pool.connection = counted


async def checkouts(client: Any, method: str, url: str, **kwargs: Any) -> tuple[int, int, int]:
    """(status, checkouts, most held at once) of one request."""
    seen = {"taken": 0, "held": 0, "most": 0}
    token = MARK.set(seen)
    try:
        response = await client.request(method, url, **kwargs)
    finally:
        MARK.reset(token)
    return response.status_code, seen["taken"], seen["most"]


PAGES = [
    "/inbox",
    "/orders",
    "/orders/new",
    "/broadcasts",
    "/settings/away",
    "/customers/import",
    "/team",
    "/templates",
    "/account/preferences",
    "/admin/integrations",
    "/admin/users",
    "/admin/agents",
    "/admin/numbers",
    "/admin/webhooks",
]


@pytest.mark.parametrize("url", PAGES)
async def test_a_page_checks_out_one_connection(app: Any, client: Any, conn: Any, url: str) -> None:
    await user_with_password(conn, "boss@example.com", role="admin")
    await sign_in(client, "boss@example.com")
    count_checkouts(app)
    status, taken, most = await checkouts(client, "GET", url)
    if url == "/templates":  # no WhatsApp number: the error page, after the page's connection
        assert (status, most) == (409, 1)  # was given back (never two held at once)
        return
    assert status == 200
    assert taken == 1, f"{url} checked out {taken} pooled connections"


async def test_a_form_error_rerendered_checks_out_one_connection(
    app: Any, client: Any, conn: Any
) -> None:
    """A refused change re-renders its page on the same connection (it used to take a second)."""
    await user_with_password(conn, "boss@example.com", role="admin")
    csrf = await sign_in(client, "boss@example.com")
    count_checkouts(app)
    status, taken, _most = await checkouts(
        client, "POST", "/team/canned", data={"csrf_token": csrf, "shortcut": "?", "body": "x"}
    )
    assert status == 422
    assert taken == 1


async def test_a_refused_admin_change_checks_out_one_connection(
    app: Any, client: Any, conn: Any
) -> None:
    """The admin section re-rendered with the service's error shares the change's connection."""
    await user_with_password(conn, "boss@example.com", role="admin")
    csrf = await sign_in(client, "boss@example.com")
    count_checkouts(app)
    status, taken, _most = await checkouts(
        client,
        "POST",
        "/admin/users",
        data={"csrf_token": csrf, "email": "not an address", "name": "X", "role": "agent"},
    )
    assert status == 400
    assert taken == 1


@pytest.mark.parametrize("url", ["/api/v1/conversations", "/api/v1/canned-responses"])
async def test_an_agent_scoped_api_call_checks_out_one_connection(
    app: Any, client: Any, conn: Any, url: str
) -> None:
    agent = await make_agent_user(conn, "agent@example.com")
    count_checkouts(app)
    status, taken, _most = await checkouts(client, "GET", url, headers=bearer(agent["token"]))
    assert status == 200
    assert taken == 1, f"{url} checked out {taken} pooled connections"
