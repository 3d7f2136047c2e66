"""Group commit and the one-transaction-per-webhook path behave the same; failures stay isolated."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.inbound.conftest import deliver, load, rows


async def test_concurrent_deliveries_share_transactions(client, conn, app, agent):
    batcher = app.state.webhook_batcher
    before = batcher.batches
    payloads = []
    for i in range(40):
        p = load("text_old_shape")
        msg = p["entry"][0]["changes"][0]["value"]["messages"][0]
        msg["id"] = f"wamid.BATCH_{i}"
        p["entry"][0]["changes"][0]["value"]["contacts"][0]["wa_id"] = msg["from"] = (
            f"49151000000{i:02d}"
        )
        payloads.append(p)
    results = await asyncio.gather(*(deliver(client, p) for p in payloads))
    assert {r.status_code for r in results} == {200}
    assert len(await rows(conn, agent["tables"].query("SELECT id FROM {messages}"))) == 40
    assert len(await rows(conn, agent["tables"].query("SELECT id FROM {customers}"))) == 40
    assert batcher.batches - before < 40  # several webhooks were committed together


async def test_one_bad_payload_does_not_fail_the_batch(client, conn, app, agent):
    good = [load("text_old_shape"), load("three_messages_two_customers")]
    bad = load("order")
    # a quantity too large for the items table makes the database refuse this payload
    bad["entry"][0]["changes"][0]["value"]["messages"][0]["order"]["product_items"][0][
        "quantity"
    ] = 10**12
    results = await asyncio.gather(
        deliver(client, good[0]), deliver(client, bad), deliver(client, good[1])
    )
    assert {r.status_code for r in results} == {200}
    t = agent["tables"]
    assert len(await rows(conn, t.query("SELECT id FROM {messages}"))) == 4
    js = await rows(conn, "SELECT status, error, body FROM webhook_journal ORDER BY id")
    failed = [j for j in js if j["status"] == "failed"]
    assert len(js) == 3 and len(failed) == 1
    assert (
        json.loads(bytes(failed[0]["body"]))["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        == "wamid.ORDER_1"
    )
    assert await rows(conn, t.query("SELECT id FROM {orders}")) == []


async def test_connections_lost_between_deliveries(client, conn, agent, db_url):
    """The pool checks connections on checkout: a restarted database (all backends gone) is survived."""
    assert (await deliver(client, load("text_old_shape"))).status_code == 200
    await conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    assert (await deliver(client, load("three_messages_two_customers"))).status_code == 200
    assert len(await rows(conn, agent["tables"].query("SELECT id FROM {messages}"))) == 4


@pytest.fixture
def direct_settings(settings):
    return settings.model_copy(update={"webhook_batch_max": 0})


async def test_direct_path_without_batcher(db_url, direct_settings, conn, agent):
    import httpx

    from wacrm.app import create_app

    application = create_app(direct_settings, database_url=db_url)
    async with application.router.lifespan_context(application):
        assert getattr(application.state, "webhook_batcher", None) is None
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            body = json.dumps(load("three_messages_two_customers")).encode()
            results = await asyncio.gather(*(deliver(client, body) for _ in range(20)))
            assert {r.status_code for r in results} == {200}
            assert (await deliver(client, load("wrong_shape"))).status_code == 200
            assert (await deliver(client, load("order"))).status_code == 200
    t = agent["tables"]
    assert len(await rows(conn, t.query("SELECT id FROM {messages}"))) == 4
    assert len(await rows(conn, t.query("SELECT id FROM {orders}"))) == 1
    statuses = [
        j["status"] for j in await rows(conn, "SELECT status FROM webhook_journal ORDER BY id")
    ]
    assert statuses.count("processed") == 21 and statuses.count("failed") == 1
