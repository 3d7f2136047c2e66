"""The live stream ends with its session or token (issue 13 item 5): at once when it is revoked in
any process (LISTEN/NOTIFY), and by a periodic re-check when nobody announced it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from tests.helpers import bearer, make_admin, make_agent_user
from tests.realtime.test_sse import sse_events
from wacrm.accounts import service as accounts
from wacrm.app import create_app
from wacrm.realtime import events as realtime

PASSWORD = "correct horse battery staple"
SLOW = 3600.0  # periodic re-check out of the way: only the announcement can end the stream


@contextlib.asynccontextmanager
async def serve(db_url: str, settings: Any, recheck: float = SLOW) -> AsyncIterator[str]:
    """One app instance (a process's stand-in, with its own LISTEN connection) on loopback."""
    app = create_app(settings, database_url=db_url)
    app.state.sse_recheck_seconds = recheck
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        await asyncio.wait_for(app.state.event_hub.connected.wait(), 10)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        sock.close()


async def signed_in(http: httpx.AsyncClient, base: str, email: str) -> tuple[dict[str, str], str]:
    """(cookie header, CSRF token) of a new browser session."""
    r = await http.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Cookie": f"wacrm_session={r.cookies['wacrm_session']}"}, r.json()["csrf_token"]


@contextlib.asynccontextmanager
async def stream_of(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], params: Any = None
) -> AsyncIterator[Any]:
    async with http.stream("GET", f"{url}/api/v1/events", headers=headers, params=params) as resp:
        assert resp.status_code == 200
        events = sse_events(resp)
        kind, _, _ = await asyncio.wait_for(anext(events), 10)
        assert kind == "ready"
        yield events


async def ends_signed_out(events: Any, timeout: float = 10) -> None:
    """The next event is `signed_out` and the stream ends after it."""
    kind, _, _ = await asyncio.wait_for(anext(events), timeout)
    assert kind == "signed_out"
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(events), timeout)


@pytest.fixture
async def ann(conn) -> dict[str, Any]:
    ann = await make_agent_user(conn, "ann@example.com")
    await accounts.set_password(conn, user_id=ann["user_id"], password=PASSWORD)
    return ann


async def test_sign_out_in_another_process_ends_that_sessions_stream_only(
    conn, db_url, settings, ann
) -> None:
    async with (
        serve(db_url, settings) as one,
        serve(db_url, settings) as two,
        httpx.AsyncClient(timeout=10) as http,
    ):
        cookie_a, csrf_a = await signed_in(http, one, "ann@example.com")
        cookie_b, _ = await signed_in(http, one, "ann@example.com")
        async with stream_of(http, two, cookie_a) as a, stream_of(http, two, cookie_b) as b:
            out = await http.post(
                f"{one}/api/v1/auth/logout", headers={**cookie_a, "X-CSRF-Token": csrf_a}
            )
            assert out.status_code == 204
            await ends_signed_out(a)
            # the other session of the same user keeps streaming
            await realtime.notify(conn, agent_id=ann["agent"]["id"], kind="order", customer_id=1)
            kind, _, _ = await asyncio.wait_for(anext(b), 10)
            assert kind == "order"
        assert (await http.get(f"{two}/api/v1/events", headers=cookie_a)).status_code == 401


async def test_revoking_the_token_ends_its_stream(conn, db_url, settings, ann) -> None:
    async with (
        serve(db_url, settings) as one,
        serve(db_url, settings) as two,
        httpx.AsyncClient(timeout=10) as http,
    ):
        async with stream_of(http, two, bearer(ann["token"])) as events:
            tokens = (await http.get(f"{one}/api/v1/tokens", headers=bearer(ann["token"]))).json()
            r = await http.delete(
                f"{one}/api/v1/tokens/{tokens[0]['id']}", headers=bearer(ann["token"])
            )
            assert r.status_code == 200
            await ends_signed_out(events)
        assert (
            await http.get(f"{two}/api/v1/events", headers=bearer(ann["token"]))
        ).status_code == 401


async def test_deactivating_the_user_ends_session_and_token_streams(
    conn, db_url, settings, ann
) -> None:
    admin = await make_admin(conn, "root@example.com")
    async with (
        serve(db_url, settings) as one,
        serve(db_url, settings) as two,
        httpx.AsyncClient(timeout=10) as http,
    ):
        cookie, _ = await signed_in(http, one, "ann@example.com")
        async with (
            stream_of(http, two, cookie) as by_session,
            stream_of(http, two, bearer(ann["token"])) as by_token,
        ):
            r = await http.post(
                f"{one}/api/v1/users/{ann['user_id']}/deactivate", headers=bearer(admin["token"])
            )
            assert r.status_code == 200, r.text
            await ends_signed_out(by_session)
            await ends_signed_out(by_token)


async def test_sign_out_by_a_separate_os_process(conn, db_url, settings, ann) -> None:
    """A real other process (as `wacrm` run elsewhere) revokes the session: NOTIFY reaches us."""
    async with serve(db_url, settings) as one, httpx.AsyncClient(timeout=10) as http:
        cookie, _ = await signed_in(http, one, "ann@example.com")
        async with stream_of(http, one, cookie) as events:
            code = (
                "import asyncio, psycopg\n"
                "from psycopg.rows import dict_row\n"
                "from wacrm.accounts import sessions\n"
                "async def main():\n"
                "    async with await psycopg.AsyncConnection.connect(\n"
                f"        {db_url!r}, autocommit=True, row_factory=dict_row) as conn:\n"
                "        cur = await conn.execute('SELECT id FROM user_sessions')\n"
                "        for row in await cur.fetchall():\n"
                "            await sessions.logout(conn, session_id=row['id'])\n"
                "asyncio.run(main())\n"
            )
            done = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-c", code], env=dict(os.environ), timeout=60
            )
            assert done.returncode == 0
            await ends_signed_out(events)


@pytest.mark.parametrize("how", ["session revoked", "session expired", "token expired"])
async def test_the_periodic_re_check_ends_streams_nobody_announced(
    conn, db_url, settings, ann, how
) -> None:
    """Revoked or expired without an announcement (a direct SQL change, an expiry): the periodic
    re-check finds it."""
    async with serve(db_url, settings, recheck=0.3) as one, httpx.AsyncClient(timeout=10) as http:
        cookie, _ = await signed_in(http, one, "ann@example.com")
        headers = bearer(ann["token"]) if how.startswith("token") else cookie
        async with stream_of(http, one, headers) as events:
            await asyncio.sleep(1)  # several re-checks pass while it is still valid
            statement = {
                "session revoked": "UPDATE user_sessions SET revoked_at = now()",
                "session expired": "UPDATE user_sessions SET expires_at = now()",
                "token expired": "UPDATE api_tokens SET expires_at = now()",
            }[how]
            await conn.execute(statement)
            await ends_signed_out(events)


async def test_losing_the_workspace_ends_the_stream(conn, db_url, settings, ann) -> None:
    """The re-check covers the workspace too: an agent deactivated while its stream is open."""
    async with (
        serve(db_url, settings, recheck=0.3) as one,
        httpx.AsyncClient(timeout=10) as http,
        stream_of(http, one, bearer(ann["token"])) as events,
    ):
        await conn.execute(
            "UPDATE agents SET is_active = false WHERE id = %s", (ann["agent"]["id"],)
        )
        await ends_signed_out(events)


async def test_a_removed_member_loses_the_workspaces_stream_at_once(
    conn, db_url, settings, ann
) -> None:
    """A member of Ann's workspace streams it; removed from the team, the stream ends (announced,
    not at the next re-check)."""
    from wacrm.members import service as members

    bob = await make_agent_user(conn, "bob@example.com")
    await members.add_member(conn, agent_id=ann["agent"]["id"], email="bob@example.com")
    async with (
        serve(db_url, settings) as one,
        httpx.AsyncClient(timeout=10) as http,
    ):
        params = {"agent_id": ann["agent"]["id"]}
        async with stream_of(http, one, bearer(bob["token"]), params) as events:
            await members.remove_member(conn, agent_id=ann["agent"]["id"], user_id=bob["user_id"])
            await ends_signed_out(events)
