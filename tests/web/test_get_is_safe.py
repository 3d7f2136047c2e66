"""A GET never changes state (issue 13 item 4): every GET route of the API and the web app, as an
agent and as an admin, on a conversation with unread messages, sends no write to PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest

from tests.conversations.factory import add_customer, add_message
from tests.web.conftest import sign_in, user_with_password

WRITE = re.compile(
    r"\b(INSERT\s+INTO|UPDATE\s+[\w.\"]+\s+(AS\s+\w+\s+)?SET|DELETE\s+FROM|TRUNCATE|MERGE\s+INTO"
    r"|pg_notify|NOTIFY\s|nextval|setval)",
    re.IGNORECASE,
)
# signing in is recorded where the session and token rows say when they were last used
ALLOWED = re.compile(r"UPDATE (user_sessions SET last_seen_at|api_tokens SET last_used_at)")
NOT_CALLED = {
    "/api/v1/events",  # a stream that never ends (tested in tests/realtime)
    "/api/v1/templates",  # asks Meta (tested in tests/outbound with the sandbox)
}


class WriteSpy:
    """Records every statement psycopg sends that writes (text of the statement)."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for cls in (psycopg.AsyncCursor, psycopg.Cursor):
            for name in ("execute", "executemany"):
                monkeypatch.setattr(cls, name, self._wrap(getattr(cls, name)))

    def _wrap(self, original: Any) -> Any:
        spy = self

        def wrapper(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            text = query.as_string(cursor.connection) if hasattr(query, "as_string") else query
            text = text.decode() if isinstance(text, bytes) else str(text)
            if WRITE.search(text) and not ALLOWED.search(" ".join(text.split())):
                spy.writes.append(" ".join(text.split())[:200])
            return original(cursor, query, *args, **kwargs)

        return wrapper


def get_routes(app: Any) -> list[str]:
    from fastapi.routing import iter_route_contexts

    paths = []
    for route in iter_route_contexts(app.routes):
        methods = getattr(route, "methods", None) or set()
        if "GET" in methods and route.path not in NOT_CALLED:
            paths.append(route.path)
    return paths


@pytest.fixture
async def world(conn) -> dict[str, Any]:
    """An agent with a customer who has unread inbound messages (with WhatsApp ids) and an order."""
    ann = await user_with_password(conn, "ann@example.com")
    await user_with_password(conn, "root@example.com", role="admin", agent=False)
    tables = ann["tables"]
    cid = await add_customer(conn, tables, "Carla", phone="+4915100000004")
    mid = await add_message(conn, tables, cid, "hello", wamid="wamid.HBgL1")
    await add_message(conn, tables, cid, "anyone?", wamid="wamid.HBgL2")
    cur = await conn.execute(
        tables.query("INSERT INTO {orders} (customer_id) VALUES (%s) RETURNING id"), (cid,)
    )
    oid = (await cur.fetchone())["id"]
    return {
        "ann": ann,
        "ids": {
            "customer_id": cid,
            "order_id": oid,
            "message_id": mid,
            "agent_id": ann["agent"]["id"],
            "user_id": str(ann["user"]["id"]),
            "config_id": 1,
            "endpoint_id": 1,
        },
    }


def concrete(path: str, ids: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: str(ids.get(m.group(1), 1)), path)


async def unread_state(conn, tables) -> tuple[int, int, int]:
    cur = await conn.execute(
        tables.query(
            "SELECT (SELECT sum(unread_count) FROM {customers}) AS unread,"
            " (SELECT count(*) FROM {messages} WHERE is_read) AS read,"
            " (SELECT count(*) FROM pgqueuer) AS jobs"
        )
    )
    row = await cur.fetchone()
    return row["unread"], row["read"], row["jobs"]


@pytest.mark.parametrize("who", ["ann@example.com", "root@example.com"])
async def test_no_get_route_writes(app, client, conn, world, monkeypatch, who) -> None:
    await sign_in(client, who)
    ids = world["ids"]
    if who.startswith("root"):
        client.cookies.set("wacrm_workspace", str(ids["agent_id"]))
    before = await unread_state(conn, world["ann"]["tables"])
    spy = WriteSpy()
    spy.install(monkeypatch)
    paths = get_routes(app)
    assert {"/chat/{customer_id}", "/chat/{customer_id}/recent", "/inbox"} <= set(paths)
    answered = {}
    for path in paths:
        url = concrete(path, ids)
        params = {"agent_id": ids["agent_id"]} if path.startswith("/api/v1") else {}
        response = await client.get(url, params=params)
        answered[path] = response.status_code
        assert response.status_code < 500, (path, response.text[:300])
    assert spy.writes == [], spy.writes
    assert await unread_state(conn, world["ann"]["tables"]) == before
    assert answered["/chat/{customer_id}"] == 200 and answered["/chat/{customer_id}/recent"] == 200


async def test_reading_is_a_post_with_the_csrf_token(client, conn, world) -> None:
    """The read (and its WhatsApp read receipt) happens on the page's POST, with the token."""
    tables, cid = world["ann"]["tables"], world["ids"]["customer_id"]
    csrf = await sign_in(client, "ann@example.com")
    assert (await client.post(f"/chat/{cid}/read")).status_code == 403  # another site's form
    assert await unread_state(conn, tables) == (2, 0, 0)
    read = await client.post(f"/chat/{cid}/read", headers={"X-CSRF-Token": csrf})
    assert read.status_code == 204
    assert await unread_state(conn, tables) == (0, 2, 1)  # one receipt, for the newest
    again = await client.post(f"/chat/{cid}/read", headers={"X-CSRF-Token": csrf})
    assert again.status_code == 204
    assert await unread_state(conn, tables) == (0, 2, 1)
    missing = await client.post("/chat/999999/read", headers={"X-CSRF-Token": csrf})
    assert missing.status_code == 404
