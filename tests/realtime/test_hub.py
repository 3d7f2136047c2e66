"""The per-process LISTEN hub: fan-out by agent, across processes' hubs, reconnection."""

from __future__ import annotations

import asyncio

import pytest

from wacrm.realtime import events as realtime
from wacrm.realtime.hub import REFRESH, EventHub


async def _started(url: str) -> EventHub:
    hub = EventHub(url, backoff_initial=0.05, backoff_max=0.5, health_interval=1.0)
    await hub.start()
    await asyncio.wait_for(hub.connected.wait(), 10)
    return hub


async def test_events_reach_subscribers_of_their_agent_on_every_hub(conn, db_url):
    one, two = await _started(db_url), await _started(db_url)
    try:
        with (
            one.subscribe(7) as a7,
            two.subscribe(7) as b7,
            two.subscribe(8) as b8,
            two.subscribe(None) as everyone,
        ):
            await realtime.notify(conn, agent_id=8, kind="order", customer_id=3, order_id=9)
            await realtime.notify(conn, agent_id=7, kind="message", customer_id=1, message_id=5)
            for sub in (a7, b7):
                event = await asyncio.wait_for(sub.get(), 5)
                assert event == {
                    "agent_id": 7,
                    "kind": "message",
                    "customer_id": 1,
                    "message_id": 5,
                    "order_id": None,
                }
            assert (await asyncio.wait_for(b8.get(), 5))["kind"] == "order"
            got = [await asyncio.wait_for(everyone.get(), 5) for _ in range(2)]
            assert [e["agent_id"] for e in got] == [8, 7]
            assert a7.queue.empty() and b7.queue.empty() and b8.queue.empty()
        assert two.subscriber_count == 0
    finally:
        await one.stop()
        await two.stop()


async def test_notify_in_a_rolled_back_transaction_is_not_delivered(conn, db_url):
    hub = await _started(db_url)
    try:
        with hub.subscribe(1) as sub:
            with pytest.raises(RuntimeError):
                async with conn.transaction():
                    await realtime.notify(conn, agent_id=1, kind="message", customer_id=1)
                    raise RuntimeError("roll back")
            await realtime.notify(conn, agent_id=1, kind="status", customer_id=2)
            assert (await asyncio.wait_for(sub.get(), 5))["kind"] == "status"
    finally:
        await hub.stop()


async def test_reconnects_after_losing_its_connection_and_asks_for_refresh(conn, db_url):
    hub = await _started(db_url)
    try:
        with hub.subscribe(1) as sub:
            old_pid = hub.backend_pid
            await conn.execute("SELECT pg_terminate_backend(%s)", (old_pid,))
            event = await asyncio.wait_for(sub.get(), 10)
            assert event == {"kind": REFRESH, "reason": "reconnected"}
            assert hub.backend_pid != old_pid and hub.reconnects == 1
            await realtime.notify(conn, agent_id=1, kind="customer", customer_id=4)
            assert (await asyncio.wait_for(sub.get(), 5))["customer_id"] == 4
    finally:
        await hub.stop()


async def test_malformed_payloads_are_ignored_and_slow_readers_get_refresh(conn, db_url):
    hub = EventHub(db_url, max_queue=3)
    with hub.subscribe(1) as sub:
        for text in ("not json", "[]", '{"kind": "message"}', '{"agent_id": "1", "kind": "x"}'):
            hub.dispatch(text)
        assert sub.queue.empty()
        for i in range(5):
            hub.dispatch(realtime.payload(agent_id=1, kind="message", customer_id=i))
        drained = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
        assert drained[0] == {"kind": REFRESH, "reason": "overflow"}
        assert [e["customer_id"] for e in drained[1:]] == [4]
    with pytest.raises(ValueError):
        realtime.payload(agent_id=1, kind="bogus", customer_id=1)
