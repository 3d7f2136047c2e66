"""Outgoing webhooks in production refuse addresses of this machine and of private networks
(a CRM must not become a way into them): when saved, and at every delivery (DNS can change)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from tests.helpers import make_agent_user
from tests.hooks.receiver import Receiver
from tests.web.conftest import user_with_password
from tests.web.test_admin_pages import admin_sign_in
from wacrm.config import Settings
from wacrm.hooks import service as hooks
from wacrm.hooks import tasks
from wacrm.jobs import context

PRIVATE = [
    "https://10.0.0.5/hook",
    "https://192.168.1.20/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[fd00::1]/hook",
    "https://0.0.0.0/hook",
    "http://localhost:8080/hook",
    "http://127.0.0.1:9000/hook",
    "https://shop.localhost/hook",
]


@pytest.mark.parametrize("url", PRIVATE)
async def test_private_addresses_refused_in_production(conn: Any, url: str) -> None:
    user = await make_agent_user(conn, "shop@example.com")
    with pytest.raises(hooks.HookError, match="private network") as raised:
        await hooks.create_endpoint(
            conn, agent_id=user["agent"]["id"], url=url, events=["order.created"], private_ok=False
        )
    assert raised.value.status == 422 and raised.value.field == "url"
    cur = await conn.execute("SELECT count(*) AS n FROM hook_endpoints")
    assert (await cur.fetchone())["n"] == 0


async def test_public_address_and_local_receivers_outside_production(conn: Any) -> None:
    user = await make_agent_user(conn, "shop@example.com")
    agent_id = user["agent"]["id"]
    public = await hooks.create_endpoint(
        conn,
        agent_id=agent_id,
        url="https://8.8.8.8/hook",
        events=["order.created"],
        private_ok=False,
    )
    with pytest.raises(hooks.HookError, match="private network"):
        await hooks.update_endpoint(
            conn, endpoint_id=public["id"], url="https://10.1.1.1/x", private_ok=False
        )
    local = await hooks.create_endpoint(  # development and tests: local receivers work
        conn,
        agent_id=agent_id,
        url="http://127.0.0.1:9000/hook",
        events=["order.created"],
        private_ok=True,
    )
    assert local["url"] == "http://127.0.0.1:9000/hook"


def test_private_addresses_are_allowed_outside_production_only(settings: Settings) -> None:
    assert settings.private_addresses_allowed  # test (and development)
    production = settings.model_copy(update={"env": "production"})
    assert not production.private_addresses_allowed


async def test_admin_page_in_production_shows_the_refusal_next_to_the_url(
    app: Any, client: Any, conn: Any
) -> None:
    await user_with_password(conn, "root@example.com", role="admin", agent=False)
    ann = await user_with_password(conn, "ann@example.com")
    csrf = await admin_sign_in(client)
    app.state.settings = app.state.settings.model_copy(update={"env": "production"})
    bad = await client.post(
        "/admin/integrations",
        data={
            "csrf_token": csrf,
            "agent_id": ann["agent"]["id"],
            "url": "https://169.254.169.254/latest",
            "events": ["order.created"],
        },
    )
    assert bad.status_code == 422
    assert 'class="error field-error">endpoints must be on the internet' in bad.text
    cur = await conn.execute("SELECT count(*) AS n FROM hook_endpoints")
    assert (await cur.fetchone())["n"] == 0


async def test_delivery_to_a_private_address_refused_in_production(
    conn: Any, db_url: str, settings: Settings, receiver: Receiver
) -> None:
    user = await make_agent_user(conn, "shop@example.com")
    agent_id = user["agent"]["id"]
    endpoint = await hooks.create_endpoint(  # saved before production (or a name resolving there)
        conn, agent_id=agent_id, url=receiver.url, events=["order.created"], private_ok=True
    )
    await hooks.emit(conn, agent_id=agent_id, event="order.created", data={"order": 1})
    production = settings.model_copy(update={"env": "production"})
    kwargs = {"row_factory": dict_row, "autocommit": True}
    async with AsyncConnectionPool(db_url, min_size=1, max_size=2, kwargs=kwargs) as pool:
        context.install(context.WorkerContext(pool=pool, settings=production, database_url=db_url))
        try:
            assert await tasks.release_due() == 1
            cur = await conn.execute("SELECT id FROM hook_deliveries")
            delivery = await cur.fetchone()
            await tasks.deliver({"delivery_id": delivery["id"]})
        finally:
            context.install(None)
    assert receiver.received == []
    rows = await hooks.deliveries(conn, endpoint_id=endpoint["id"])
    assert rows[0]["state"] == "retry"
    assert rows[0]["last_error"].startswith("refused: 127.0.0.1 is an address of this machine")


async def test_the_post_goes_to_the_address_that_was_checked(receiver: Receiver) -> None:
    """DNS rebinding: the name is not resolved again for the connection; the checked address is
    used, and the site's name still travels in the Host header."""
    port = receiver.url.split(":")[2].split("/")[0]
    url = f"http://hooks.unresolvable.invalid:{port}/hook"
    status, error = await tasks._post(url, b'{"event": "x"}', {}, address="127.0.0.1")
    assert (status, error) == (200, None)
    assert receiver.received[0]["headers"]["Host"] == f"hooks.unresolvable.invalid:{port}"
    status, error = await tasks._post(url, b'{"event": "x"}', {})  # resolving it fails
    assert status is None and error is not None and error.startswith("could not connect")


async def test_a_name_is_checked_once_per_delivery_and_every_answer_counts(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, db_url: str
) -> None:
    """A name with one public and one private answer is refused; a public one is pinned."""
    answers = {
        "mixed.example": ["8.8.8.8", "10.0.0.7"],
        "public.example": ["8.8.4.4", "1.1.1.1"],
    }
    calls: list[str] = []

    async def getaddrinfo(host: str, port: Any) -> list[Any]:
        calls.append(host)
        return [(2, 1, 6, "", (a, 0)) for a in answers[host]]

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    production = settings.model_copy(update={"env": "production"})
    async with AsyncConnectionPool(db_url, min_size=1, max_size=1) as pool:
        context.install(context.WorkerContext(pool=pool, settings=production, database_url=db_url))
        try:
            mixed = await tasks.public_address("https://mixed.example/hook")
            public = await tasks.public_address("https://public.example/hook")
        finally:
            context.install(None)
    assert mixed == (
        None,
        "refused: mixed.example is an address of this machine or of a private network",
    )
    assert public == ("8.8.4.4", None)
    assert calls == ["mixed.example", "public.example"]
