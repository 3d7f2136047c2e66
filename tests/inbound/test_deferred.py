"""Deferred processing (the default): journaled before the 200, processed by the journal processor."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from tests.inbound.conftest import APP_SECRET, deliver, load, rows
from wacrm.inbound.consumer import drain, run_processor


@pytest.fixture
async def deferred_app(db_url: str, settings: Any) -> Any:
    from wacrm.app import create_app

    application = create_app(
        # the fallback secret lets a body that is not JSON (no phone_number_id) be verified
        settings.model_copy(
            update={"webhook_processing": "deferred", "whatsapp_app_secret": APP_SECRET}
        ),
        database_url=db_url,
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def dclient(deferred_app: Any) -> Any:
    transport = httpx.ASGITransport(app=deferred_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def text_from(i: int, *, phone: str | None = None) -> dict[str, Any]:
    p = load("text_old_shape")
    value = p["entry"][0]["changes"][0]["value"]
    msg = value["messages"][0]
    msg["id"] = f"wamid.DEFERRED_{i}"
    msg["text"]["body"] = f"message {i}"
    value["contacts"][0]["wa_id"] = msg["from"] = phone or f"4915100000{i % 50:03d}"
    return p


async def journal(conn: Any) -> list[str]:
    return [r["status"] for r in await rows(conn, "SELECT status FROM webhook_journal ORDER BY id")]


async def wait_for(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "the journal processor did not catch up in time"
        await asyncio.sleep(0.05)


async def test_journaled_before_the_200_and_processed_after(dclient, deferred_app, conn, agent):
    results = await asyncio.gather(*(deliver(dclient, text_from(i)) for i in range(30)))
    assert {r.status_code for r in results} == {200}
    # answered: every body is durably in the journal, waiting; nothing is processed yet
    assert await journal(conn) == ["received"] * 30
    t = agent["tables"]
    assert await rows(conn, t.query("SELECT id FROM {messages}")) == []

    assert await drain(deferred_app.state.pool) == 30
    assert await journal(conn) == ["processed"] * 30
    msgs = await rows(conn, t.query("SELECT message FROM {messages} ORDER BY id"))
    assert sorted(m["message"] for m in msgs) == sorted(f"message {i}" for i in range(30))
    unread = await rows(conn, t.query("SELECT sum(unread_count) AS n FROM {customers}"))
    assert unread[0]["n"] == 30


async def test_not_json_is_failed_at_once_and_bad_payload_alone(dclient, deferred_app, conn, agent):
    bad = load("order")  # a quantity too large for the items table: the database refuses it
    bad["entry"][0]["changes"][0]["value"]["messages"][0]["order"]["product_items"][0][
        "quantity"
    ] = 10**12
    for payload in (text_from(1), bad, text_from(2), b"not json at all", load("wrong_shape")):
        assert (await deliver(dclient, payload)).status_code == 200
    assert await journal(conn) == ["received", "received", "received", "failed", "received"]
    assert await drain(deferred_app.state.pool) == 4
    js = await rows(conn, "SELECT status, error FROM webhook_journal ORDER BY id")
    assert [j["status"] for j in js] == ["processed", "failed", "processed", "failed", "failed"]
    assert js[3]["error"] == "the body is not JSON"
    assert "unknown payload shape" in js[4]["error"]
    t = agent["tables"]
    assert len(await rows(conn, t.query("SELECT id FROM {messages}"))) == 2
    assert await rows(conn, t.query("SELECT id FROM {orders}")) == []
    # a failed row is kept for `wacrm webhooks replay`, not claimed again
    assert await drain(deferred_app.state.pool) == 0


async def test_two_processors_share_the_journal_exactly_once(dclient, db_url, conn, agent):
    stop = asyncio.Event()
    # two processes' worth: one with a single processor, one with three side by side (shards)
    processors = [
        asyncio.create_task(run_processor(db_url, stop, batch=16, shards=n)) for n in (1, 3)
    ]
    try:
        payloads = [text_from(i) for i in range(150)]
        payloads += [text_from(i) for i in range(0, 150, 5)]  # Meta re-delivers some
        results = await asyncio.gather(*(deliver(dclient, p) for p in payloads))
        assert {r.status_code for r in results} == {200}

        async def caught_up() -> bool:
            return set(await journal(conn)) == {"processed"}

        await wait_for(caught_up)
    finally:
        stop.set()
        await asyncio.gather(*processors)
    t = agent["tables"]
    msgs = await rows(conn, t.query("SELECT wamid FROM {messages}"))
    assert len(msgs) == 150 and len({m["wamid"] for m in msgs}) == 150
    unread = await rows(
        conn, t.query("SELECT sum(unread_count) AS n, count(*) AS c FROM {customers}")
    )
    assert unread[0]["n"] == 150 and unread[0]["c"] == 50


async def test_processor_is_woken_and_survives_lost_connections(dclient, db_url, conn, agent):
    stop = asyncio.Event()
    processor = asyncio.create_task(run_processor(db_url, stop, poll=30.0))
    t = agent["tables"]

    async def count(n: int) -> Any:
        async def done() -> bool:
            return len(await rows(conn, t.query("SELECT id FROM {messages}"))) == n

        return done

    try:
        await asyncio.sleep(0.3)  # listening
        started = time.monotonic()
        assert (await deliver(dclient, text_from(1))).status_code == 200
        await wait_for(await count(1))
        assert time.monotonic() - started < 5  # the NOTIFY woke it (the poll is 30 s)
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        for i in range(2, 6):
            assert (await deliver(dclient, text_from(i))).status_code == 200
        await wait_for(await count(5), timeout=30)
    finally:
        stop.set()
        await processor
    assert set(await journal(conn)) == {"processed"}


async def test_rows_left_waiting_by_a_crash_are_processed(conn, db_url, agent):
    """A web process that died after its 200s leaves 'received' rows: any processor takes them."""
    body = json.dumps(load("three_messages_two_customers")).encode()
    await conn.execute(
        "INSERT INTO webhook_journal (phone_number_id, body) VALUES (%s, %s), (%s, %s)",
        ("106540352242922", body, "106540352242922", body),
    )
    from wacrm.db.pool import create_pool

    pool = create_pool(db_url, max_size=2, min_size=1)
    await pool.open()
    try:
        assert await drain(pool) == 2
    finally:
        await pool.close()
    assert await journal(conn) == ["processed", "processed"]
    assert len(await rows(conn, agent["tables"].query("SELECT id FROM {messages}"))) == 3


async def test_claims_start_below_the_last_one_and_now_and_then_from_the_start(
    dclient, deferred_app, conn, agent, monkeypatch
):
    from wacrm.inbound import consumer as processor
    from wacrm.inbound.routing import RouteCache

    monkeypatch.setattr(processor, "CLAIM_SLACK", 2)
    monkeypatch.setattr(processor, "FULL_CLAIM_SECONDS", 3600.0)  # no full claim unless asked
    pool, routes = deferred_app.state.pool, RouteCache()
    for i in range(6):
        assert (await deliver(dclient, text_from(i))).status_code == 200
    ids = [r["id"] for r in await rows(conn, "SELECT id FROM webhook_journal ORDER BY id")]
    window = processor.ClaimWindow()
    assert await processor.process_waiting(pool, routes, batch=5, window=window) == 5
    assert window.floor == max(0, ids[0] - 2)  # the first claimed id, less the slack
    # a webhook journaled earlier but still waiting below the window (here: put back by hand)
    await conn.execute("UPDATE webhook_journal SET status = 'received' WHERE id = %s", (ids[0],))
    window.floor = ids[3]
    assert await processor.process_waiting(pool, routes, batch=5, window=window) == 1  # ids[5]
    assert await processor.process_waiting(pool, routes, batch=5, window=window) == 0
    assert await journal(conn) == ["received"] + ["processed"] * 5
    window.full_due = 0.0  # due: the next claim looks at the whole journal
    assert await processor.process_waiting(pool, routes, batch=5, window=window) == 1
    assert await journal(conn) == ["processed"] * 6
    t = agent["tables"]
    assert len(await rows(conn, t.query("SELECT id FROM {messages}"))) == 6  # once each


def test_a_slow_full_claim_comes_less_often(monkeypatch):
    from wacrm.inbound import consumer as processor

    monkeypatch.setattr(processor, "FULL_CLAIM_SECONDS", 2.0)
    window = processor.ClaimWindow(floor=500)
    assert window.start() == 0  # the first claim looks at the whole journal
    assert window.start() == 500
    window.full_claim_took(0.5)  # at most 2% of the time: the next full claim in >= 25 s
    assert window.full_due - time.monotonic() > 20
    window.full_due = 0.0
    assert window.start() == 0
    window.full_claim_took(0.001)  # a cheap one: the 2 s period stands
    assert 0.0 < window.full_due - time.monotonic() <= 2.0


async def test_a_claim_by_shard_takes_only_its_numbers_and_the_shards_take_every_one(conn):
    """Processors side by side each claim the numbers of their shard: disjoint, all covered."""
    from wacrm.inbound import journal as journal_rows

    numbers = [f"10654035224{i:04d}" for i in range(12)] + [None]
    for n in numbers * 2:
        await conn.execute(
            "INSERT INTO webhook_journal (phone_number_id, body) VALUES (%s, '{}')", (n,)
        )
    seen: list[set[int]] = []
    for shard in range(3):
        async with conn.transaction():
            claimed = await journal_rows.claim(
                conn, start=0, batch=100, numbers=100, shard=shard, shards=3
            )
            cur = await conn.execute(
                "SELECT DISTINCT wacrm_journal_shard(phone_number_id, 3) AS s FROM webhook_journal"
                " WHERE id = ANY(%s)",
                ([r.id for r in claimed],),
            )
            assert [r["s"] for r in await cur.fetchall()] in ([shard], [])
            seen.append({r.id for r in claimed})
    assert sum(len(s) for s in seen) == len(numbers) * 2 == len(set().union(*seen))
    assert sum(1 for s in seen if s) >= 2  # 13 numbers fall into more than one shard
    async with conn.transaction():  # one shard of one: every waiting row
        assert len(await journal_rows.claim(conn, start=0, batch=100, numbers=100)) == 26
