"""Outgoing webhooks end to end: events from real changes, signed deliveries through the job queue,
retries with back-off, time-outs, slow receivers, automatic disabling, replay."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from tests.helpers import configure_sandbox_number, make_agent_user
from tests.hooks.receiver import Receiver
from tests.outbound.conftest import add_customer, wait_until, worker
from tests.sandbox_fixture import DEFAULT_NUMBER, signed_inbound
from wacrm.hooks import service as hooks
from wacrm.hooks import tasks
from wacrm.orders import service as orders


async def _endpoint(
    conn: Any, agent_id: int, receiver: Receiver, events: list[str] | None = None
) -> dict[str, Any]:
    return await hooks.create_endpoint(
        conn,
        agent_id=agent_id,
        url=receiver.url,
        events=events or list(hooks.EVENTS),
        private_ok=True,  # the receiver is on this machine (allowed outside production)
    )


async def _deliveries(conn: Any, endpoint_id: int) -> list[dict[str, Any]]:
    return await hooks.deliveries(conn, endpoint_id=endpoint_id)


async def test_inbound_webhook_reaches_receiver_signed(
    conn: Any, client: Any, db_url: str, receiver: Receiver
) -> None:
    user = await make_agent_user(conn, "shop@example.com")
    await configure_sandbox_number(conn, user["user_id"], DEFAULT_NUMBER)
    endpoint = await _endpoint(conn, user["agent"]["id"], receiver)
    body, headers, _ = signed_inbound("text", "Hello shop", phone="4915123456789", name="Ada")
    response = await client.post("/webhooks/whatsapp", content=body, headers=headers)
    assert response.status_code == 200
    async with worker(db_url):
        got = await wait_until(lambda: _async(len(receiver.events()) >= 2), 20)
    assert got, receiver.received
    by_event = {r["json"]["event"]: r for r in receiver.events()}
    received = by_event["message.received"]
    assert received["json"]["data"]["message"]["text"] == "Hello shop"
    assert received["json"]["data"]["customer"]["phone"] == "+4915123456789"
    assert received["json"]["agent_id"] == user["agent"]["id"]
    assert by_event["customer.created"]["json"]["data"]["customer"]["name"] == "Ada"
    for r in receiver.events():
        expected = (
            "sha256=" + hmac.new(endpoint["secret"].encode(), r["body"], hashlib.sha256).hexdigest()
        )
        assert r["headers"][hooks.SIGNATURE_HEADER] == expected
        assert r["headers"]["X-Wacrm-Event-Id"] == r["json"]["id"]
    rows = await _deliveries(conn, endpoint["id"])
    assert {r["state"] for r in rows} == {"delivered"}
    assert all(r["attempts"] == 1 and r["last_status"] == 200 for r in rows)


async def _async(value: Any) -> Any:
    return value


async def test_orders_and_statuses_and_no_event_without_listener(
    conn: Any, db_url: str, receiver: Receiver
) -> None:
    user = await make_agent_user(conn, "shop@example.com")
    other = await make_agent_user(conn, "other@example.com")
    tables = user["tables"]
    customer = await add_customer(conn, tables, "+4915123456780")
    await add_customer(conn, other["tables"], "+4915123456781")  # no endpoint: no event
    await _endpoint(
        conn,
        user["agent"]["id"],
        receiver,
        ["order.created", "order.status_changed", "message.status"],
    )
    order = await orders.create_order(
        conn,
        tables=tables,
        customer_id=customer["id"],
        items=[{"name": "Cup", "quantity": 2, "price": "3.50"}],
    )
    await orders.change_status(
        conn, tables=tables, order_id=order["id"], status="confirmed", actor_id=None
    )
    cur = await conn.execute(
        tables.query(
            """INSERT INTO {messages} (customer_id, message, direction, status) VALUES (%s, 'hi', 'outbound', 'queued') RETURNING id"""
        ),
        (customer["id"],),
    )
    message_id = (await cur.fetchone())["id"]
    await conn.execute(
        tables.query("UPDATE {messages} SET status = 'sending' WHERE id = %s"), (message_id,)
    )
    await conn.execute(
        tables.query("UPDATE {messages} SET status = 'delivered' WHERE id = %s"), (message_id,)
    )
    await conn.execute(
        tables.query("UPDATE {messages} SET is_read = true WHERE id = %s"), (message_id,)
    )
    cur = await conn.execute("SELECT event, data FROM hook_events ORDER BY created_at, event")
    events = [(r["event"], r["data"]) for r in await cur.fetchall()]
    names = sorted(e for e, _ in events)
    assert names == ["message.status", "order.created", "order.status_changed"]
    data = dict(events)
    assert (
        data["order.created"]["order"]["total_amount"] == "0"
    )  # items are added after the order row
    assert data["order.status_changed"]["total_amount"] == "7.00"
    assert data["order.status_changed"]["from_status"] == "pending"
    assert data["order.status_changed"]["to_status"] == "confirmed"
    assert data["message.status"]["status"] == "delivered"
    assert data["message.status"]["previous_status"] == "sending"
    async with worker(db_url):
        assert await wait_until(lambda: _async(len(receiver.events()) >= 3), 20)
    heard = {r["json"]["event"] for r in receiver.events()}
    assert heard == {"message.status", "order.created", "order.status_changed"}


async def _retry_now(conn: Any) -> None:
    await conn.execute("UPDATE hook_deliveries SET next_attempt_at = now() WHERE state = 'retry'")


async def _delivery(conn: Any, endpoint_id: int) -> dict[str, Any]:
    return (await _deliveries(conn, endpoint_id))[0]


async def test_failing_receiver_is_retried_with_backoff_then_delivered(
    conn: Any, db_url: str, receiver: Receiver
) -> None:
    user = await make_agent_user(conn, "shop@example.com")
    endpoint = await _endpoint(conn, user["agent"]["id"], receiver, ["customer.created"])
    receiver.mode = "fail"
    await add_customer(conn, user["tables"], "+4915123456782")
    async with worker(db_url):

        async def retrying() -> Any:
            row = await _delivery(conn, endpoint["id"])
            return row if row["state"] == "retry" else None

        row = await wait_until(retrying, 20)
        assert row is not None
        assert row["last_error"] == "HTTP 500: receiver is down"
        assert row["attempts"] == 1
        cur = await conn.execute(
            "SELECT next_attempt_at - last_attempt_at AS wait FROM hook_deliveries"
        )
        wait = (await cur.fetchone())["wait"].total_seconds()
        assert 25 <= wait <= 35  # the first back-off: 30 s ± 10%
        receiver.mode = "ok"
        await _retry_now(conn)

        async def delivered() -> Any:
            row = await _delivery(conn, endpoint["id"])
            return row if row["state"] == "delivered" else None

        row = await wait_until(delivered, 20)
    assert row is not None and row["attempts"] == 2
    first, second = receiver.received
    assert first["json"]["id"] == second["json"]["id"]  # same event id: the receiver can dedupe
    cur = await conn.execute("SELECT failure_streak, last_success_at FROM hook_endpoints")
    state = await cur.fetchone()
    assert state["failure_streak"] == 0 and state["last_success_at"] is not None


def test_backoff_grows_and_is_capped() -> None:
    delays = [tasks.retry_delay(n) for n in (1, 2, 3, 10, 30)]
    assert 27 <= delays[0] <= 33 and 54 <= delays[1] <= 66 and 108 <= delays[2] <= 132
    assert 3240 <= delays[3] <= 3960 and 3240 <= delays[4] <= 3960


async def test_timeout_and_slow_receiver(
    conn: Any, db_url: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "TIMEOUT", 1.0)
    user = await make_agent_user(conn, "shop@example.com")
    endpoint = await _endpoint(conn, user["agent"]["id"], receiver, ["customer.created"])
    receiver.mode, receiver.delay = "hang", 3.0
    await add_customer(conn, user["tables"], "+4915123456783")
    async with worker(db_url):

        async def retrying() -> Any:
            row = await _delivery(conn, endpoint["id"])
            return row if row["state"] == "retry" else None

        row = await wait_until(retrying, 20)
        assert row is not None and row["last_error"] == "no answer within 1 s"
        receiver.mode, receiver.delay = "slow", 0.5  # slow, but within the time-out
        await _retry_now(conn)

        async def delivered() -> Any:
            row = await _delivery(conn, endpoint["id"])
            return row if row["state"] == "delivered" else None

        row = await wait_until(delivered, 20)
    assert row is not None and row["last_duration_ms"] >= 400


async def test_endpoint_disabled_after_repeated_failures_and_resumes(
    conn: Any, db_url: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "DISABLE_AFTER_FAILURES", 3)
    user = await make_agent_user(conn, "shop@example.com")
    endpoint = await _endpoint(conn, user["agent"]["id"], receiver, ["customer.created"])
    await conn.execute(
        "UPDATE hook_endpoints SET failing_since = now() - interval '2 hours', failure_streak = 0"
    )
    receiver.mode = "fail"
    for n in range(4):
        await add_customer(conn, user["tables"], f"+491512345679{n}")
    async with worker(db_url):

        async def disabled() -> Any:
            row = await hooks.get_endpoint(conn, endpoint["id"])
            return row if row and not row["enabled"] else None

        row = await wait_until(disabled, 20)
    assert row is not None
    assert row["disabled_reason"].startswith(
        "disabled automatically after 3 failed deliveries in a row"
    )
    assert "HTTP 500" in row["disabled_reason"]
    waiting = [d for d in await _deliveries(conn, endpoint["id"]) if d["state"] != "delivered"]
    assert len(waiting) == 4
    # enabled again with a working receiver: the waiting deliveries go out
    receiver.mode = "ok"
    await hooks.update_endpoint(conn, endpoint_id=endpoint["id"], enabled=True)
    await _retry_now(conn)
    async with worker(db_url):
        assert await wait_until(lambda: _async(len(receiver.events()) == 4), 20)
    row = await hooks.get_endpoint(conn, endpoint["id"])
    assert row is not None and row["enabled"] and row["disabled_reason"] is None


async def test_replay_sends_the_same_event_again(
    conn: Any, db_url: str, receiver: Receiver
) -> None:
    user = await make_agent_user(conn, "shop@example.com")
    endpoint = await _endpoint(conn, user["agent"]["id"], receiver, ["customer.created"])
    await add_customer(conn, user["tables"], "+4915123456784")
    async with worker(db_url):
        assert await wait_until(lambda: _async(len(receiver.events()) == 1), 20)
        first = await _delivery(conn, endpoint["id"])
        await hooks.replay(conn, delivery_id=first["id"])
        assert await wait_until(lambda: _async(len(receiver.events()) == 2), 20)
    a, b = receiver.events()
    assert a["json"]["id"] == b["json"]["id"]
    assert a["headers"]["X-Wacrm-Delivery"] != b["headers"]["X-Wacrm-Delivery"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.com/hook", "endpoints must use https://"),
        ("ftp://example.com/hook", "give a full URL"),
        ("https://user:pw@example.com/", "no user name or password"),
        ("not a url", "give a full URL"),
    ],
)
async def test_endpoint_url_rules(conn: Any, url: str, message: str) -> None:
    user = await make_agent_user(conn, "shop@example.com")
    with pytest.raises(hooks.HookError, match=message):
        await hooks.create_endpoint(
            conn, agent_id=user["agent"]["id"], url=url, events=["order.created"]
        )
    with pytest.raises(hooks.HookError, match="unknown event"):
        await hooks.create_endpoint(
            conn, agent_id=user["agent"]["id"], url="https://example.com/x", events=["order.eaten"]
        )


async def test_conversation_updated_from_conversation_events(conn: Any, receiver: Receiver) -> None:
    user = await make_agent_user(conn, "shop@example.com")
    tables = user["tables"]
    customer = await add_customer(conn, tables, "+4915123456785")
    await _endpoint(conn, user["agent"]["id"], receiver, ["conversation.updated"])
    await conn.execute(
        tables.query(
            "INSERT INTO {conversation_events} (customer_id, kind, from_value, to_value)"
            " VALUES (%s, 'status', 'open', 'resolved')"
        ),
        (customer["id"],),
    )
    cur = await conn.execute("SELECT event, data FROM hook_events")
    row = await cur.fetchone()
    assert row["event"] == "conversation.updated"
    assert row["data"]["kind"] == "status" and row["data"]["to"] == "resolved"
    assert row["data"]["customer_id"] == customer["id"]


async def test_imported_history_announces_no_received_message(
    conn: Any, receiver: Receiver
) -> None:
    """A coexistence history import (origin 'history') is not a customer writing now."""
    user = await make_agent_user(conn, "shop@example.com")
    tables = user["tables"]
    await _endpoint(conn, user["agent"]["id"], receiver, ["message.received"])
    customer = await add_customer(conn, tables, "+4915123456701")
    insert = """INSERT INTO {messages} (customer_id, message, direction, status, origin)
                VALUES (%s, %s, 'inbound', 'received', %s)"""
    await conn.execute(tables.query(insert), (customer["id"], "old news", "history"))
    await conn.execute(tables.query(insert), (customer["id"], "written now", None))
    cur = await conn.execute("SELECT data FROM hook_events WHERE event = 'message.received'")
    texts = [r["data"]["message"]["text"] for r in await cur.fetchall()]
    assert texts == ["written now"]
