"""GET /api/v1/events over real HTTP, with two app instances (processes' stand-ins) on one database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import uvicorn

from tests.conversations.factory import add_customer, add_message, minutes
from tests.helpers import bearer, make_agent_user
from wacrm.app import create_app
from wacrm.realtime import events as realtime


@contextlib.asynccontextmanager
async def serve(db_url: str, settings: Any) -> AsyncIterator[str]:
    """Run one app instance with uvicorn on a free loopback port; yield its base URL."""
    app = create_app(settings, database_url=db_url)
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


async def sse_events(
    resp: httpx.Response,
) -> AsyncIterator[tuple[str, dict[str, Any], dict[str, str]]]:
    """(event, data, all fields) of each SSE message; comments (pings) skipped."""
    fields: dict[str, str] = {}
    async for line in resp.aiter_lines():
        if line == "":
            if "data" in fields:
                yield fields.get("event", "message"), json.loads(fields["data"]), fields
            fields = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(":")
            fields[key] = value.lstrip(" ")


async def test_event_sent_through_one_instance_reaches_a_subscriber_of_the_other(
    conn, db_url, settings
):
    me = await make_agent_user(conn, "me@example.com")
    other = await make_agent_user(conn, "other@example.com")
    cid = await add_customer(conn, me["tables"], "Pat", phone="4917000300")
    await add_message(conn, me["tables"], cid, "hi", at=minutes(1))
    async with (
        serve(db_url, settings) as one,
        serve(db_url, settings) as two,
        httpx.AsyncClient(timeout=10) as http,
    ):
        async with http.stream("GET", f"{two}/api/v1/events", headers=bearer(me["token"])) as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/event-stream")
            stream = sse_events(resp)
            kind, data, fields = await asyncio.wait_for(anext(stream), 10)
            assert kind == "ready" and data["agent_id"] == me["agent"]["id"]
            assert fields["retry"] == "2000"
            # another agent's event first: it must not arrive here
            await realtime.notify(
                conn, agent_id=other["agent"]["id"], kind="message", customer_id=1
            )
            r = await http.post(
                f"{one}/api/v1/conversations/{cid}/read", headers=bearer(me["token"])
            )
            assert r.status_code == 200
            kind, data, _ = await asyncio.wait_for(anext(stream), 10)
            assert kind == "customer"
            assert data == {
                "agent_id": me["agent"]["id"],
                "kind": "customer",
                "customer_id": cid,
                "message_id": None,
                "order_id": None,
            }
        r = await http.get(f"{two}/api/v1/events")
        assert r.status_code == 401
