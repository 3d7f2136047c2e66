"""The send job's two statements: the claim (lease, 'sending', reads, limiter slots) and the record."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest

from tests.outbound.conftest import CUSTOMER_PHONE, add_customer, message_row, reserve_pair
from wacrm.outbound import claim as claims
from wacrm.outbound import errors, limiter, sending, service
from wacrm.outbound.schemas import TextContent


@pytest.fixture(autouse=True)
def _lease(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sending, "lease", lambda: timedelta(seconds=60))


async def queued(conn: Any, shop: dict[str, Any], customer_id: int | None = None) -> int:
    msg = await service.queue_message(
        conn,
        tables=shop["tables"],
        agent_id=shop["agent"]["id"],
        customer_id=customer_id or shop["customer"]["id"],
        content=TextContent(body="hello"),
        sent_by=None,
    )
    return int(msg["id"])


async def claim_of(conn: Any, message_id: int) -> dict[str, Any] | None:
    """Claim the due sends (as a worker does); the row of `message_id`, None when not claimed."""
    rows = await claims.claim_due(
        conn, limit=10, holder="test", lease=timedelta(seconds=60), near=timedelta(0)
    )
    return next((r for r in rows if r["message_id"] == message_id), None)


async def buckets(conn: Any) -> dict[str, float]:
    """The limiter's buckets (not the schedules' 'i:'/'b:' ones, taken when a send is queued)."""
    rows = await (
        await conn.execute(
            "SELECT key, tokens FROM outbound_rate_buckets WHERE key LIKE 'n:%' OR key LIKE 'p:%'"
        )
    ).fetchall()
    return {r["key"]: r["tokens"] for r in rows}


async def send_state(conn: Any, message_id: int) -> dict[str, Any]:
    cur = await conn.execute(
        "SELECT state, attempts, lease_until IS NOT NULL AS leased FROM outbound_sends WHERE message_id = %s",
        (message_id,),
    )
    return await cur.fetchone()


async def test_claim_takes_the_lease_marks_sending_and_takes_both_slots(
    conn: Any, shop: dict[str, Any]
) -> None:
    tables, pnid = shop["tables"], shop["config"]["phone_number_id"]
    mid = await queued(conn, shop)
    claim = await claim_of(conn, mid)
    assert claim is not None
    assert claim["id"] == mid and claim["attempts"] == 1 and claim["payload"]["body"] == "hello"
    assert claim["recipient"] == CUSTOMER_PHONE and claim["phone_number_id"] == pnid
    assert claim["sendable"] and claim["config_id"] == shop["config"]["id"]
    assert (claim["pair_tokens"], claim["number_tokens"]) == (limiter.PAIR_BURST - 1, 0.0)
    assert await buckets(conn) == {
        limiter.pair_key(pnid, CUSTOMER_PHONE): limiter.PAIR_BURST - 1,
        limiter.number_key(pnid): 0.0,
    }
    assert (await message_row(conn, tables, mid))["status"] == "sending"
    assert await send_state(conn, mid) == {"state": "sending", "attempts": 1, "leased": True}
    # a live lease: nobody else claims it, and no slot is taken for nothing
    assert await claim_of(conn, mid) is None
    assert len(await buckets(conn)) == 2
    await conn.execute("UPDATE whatsapp_configuration SET messages_per_second = 1")
    second = await claim_of(conn, await queued(conn, shop))
    assert second is not None  # the next slot of the number: about 1 / 0.96 s after the first
    assert 0.5 < limiter.wait_for(second["number_tokens"], limiter.number_rate(1)) <= 1 / 0.96


async def test_claim_waits_for_the_customer_slot_before_the_number_slot(
    conn: Any, shop: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limiter, "PAIR_RATE", 1 / 6)
    pnid = shop["config"]["phone_number_id"]
    for _ in range(3):  # the customer's burst is used up
        await reserve_pair(conn, phone_number_id=pnid, recipient=CUSTOMER_PHONE)
    claim = await claim_of(conn, await queued(conn, shop))
    assert claim is not None and claim["pair_tokens"] < 0
    assert 5.5 < limiter.wait_for(claim["pair_tokens"], limiter.PAIR_RATE) <= 6.0
    assert claim["number_tokens"] is None  # taken only once the customer's slot has come
    assert limiter.number_key(pnid) not in await buckets(conn)


async def test_claim_of_an_unsendable_message_takes_no_slot(
    conn: Any, shop: dict[str, Any]
) -> None:
    tables = shop["tables"]
    nobody = await add_customer(conn, tables, "", written_ago=60)  # an empty phone, no BSUID
    claim = await claim_of(conn, await queued(conn, shop, nobody["id"]))
    assert claim is not None and claim["recipient"] is None and not claim["sendable"]
    await conn.execute("UPDATE whatsapp_configuration SET is_active = false")
    claim = await claim_of(conn, await queued(conn, shop))
    assert claim is not None and not claim["sendable"] and claim["is_active"] is False
    assert (claim["pair_tokens"], claim["number_tokens"]) == (None, None)
    assert await buckets(conn) == {}
    gone = await queued(conn, shop)
    await conn.execute(
        tables.query("UPDATE {customers} SET last_message_id = NULL WHERE last_message_id = %s"),
        (gone,),
    )
    await conn.execute(tables.query("DELETE FROM {messages} WHERE id = %s"), (gone,))
    claim = await claim_of(conn, gone)
    assert claim is not None and claim["id"] is None


async def test_record_sent_and_failed_in_one_statement(conn: Any, shop: dict[str, Any]) -> None:
    tables, customer_id = shop["tables"], shop["customer"]["id"]
    sent = await queued(conn, shop)
    early = await queued(conn, shop)
    failed = await queued(conn, shop)
    rows = await claims.claim_due(
        conn, limit=10, holder="test", lease=timedelta(seconds=60), near=timedelta(0)
    )
    assert [r["message_id"] for r in rows] == [sent, early, failed]  # in slot order
    # a status webhook came before the record (it could not know the wamid): keep its status
    await conn.execute(
        tables.query("UPDATE {messages} SET status = 'delivered' WHERE id = %s"), (early,)
    )
    await conn.execute("LISTEN wacrm_events")
    await sending.finish_send(conn, tables, sent, customer_id, wamid="wamid.SENT")
    await sending.finish_send(conn, tables, early, customer_id, wamid="wamid.EARLY")
    await sending.finish_send(
        conn,
        tables,
        failed,
        customer_id,
        failure=errors.UndeliverableError(131026, "Message undeliverable", "not on WhatsApp"),
    )
    events = [orjson.loads(n.payload) async for n in conn.notifies(timeout=0.5)]
    assert events == [
        {
            "agent_id": tables.agent_id,
            "kind": "status",
            "customer_id": customer_id,
            "message_id": mid,
            "order_id": None,
        }
        for mid in (sent, early, failed)
    ]
    rows = {mid: await message_row(conn, tables, mid) for mid in (sent, early, failed)}
    assert (rows[sent]["status"], rows[sent]["wamid"]) == ("sent", "wamid.SENT")
    assert (rows[early]["status"], rows[early]["wamid"]) == ("delivered", "wamid.EARLY")
    assert rows[failed]["status"] == "failed" and rows[failed]["error_code"] == 131026
    assert rows[failed]["wamid"] is None and "not on WhatsApp" in rows[failed]["error_details"]
    for mid in (sent, early, failed):
        assert await send_state(conn, mid) == {"state": "done", "attempts": 1, "leased": False}


async def test_record_applies_a_status_that_came_before_the_wamid(
    conn: Any, shop: dict[str, Any]
) -> None:
    tables = shop["tables"]
    mid = await queued(conn, shop)
    assert await claim_of(conn, mid) is not None
    await conn.execute(
        "INSERT INTO inbound_early_statuses (agent_id, wamid, status, status_at) VALUES (%s, 'wamid.X', 'read', now())",
        (tables.agent_id,),
    )
    await sending.finish_send(conn, tables, mid, shop["customer"]["id"], wamid="wamid.X")
    row = await message_row(conn, tables, mid)
    assert (row["status"], row["wamid"]) == ("read", "wamid.X")


async def test_sends_finishing_together_are_recorded_in_one_statement(
    conn: Any, db_url: str, shop: dict[str, Any]
) -> None:
    """Two agents' sends recorded in one group commit: wamid and 'sent', send done, one event each."""
    import asyncio

    from tests.helpers import make_agent_user
    from wacrm.db.pool import create_pool
    from wacrm.outbound import recorder

    other = await make_agent_user(conn, "other-seller@example.com")
    theirs = await add_customer(conn, other["tables"], "4915300000009")
    ours = [await queued(conn, shop) for _ in range(2)]
    msg = await service.queue_message(
        conn,
        tables=other["tables"],
        agent_id=other["agent"]["id"],
        customer_id=theirs["id"],
        content=TextContent(body="hello"),
        sent_by=None,
    )
    sends = [(shop["tables"], m, shop["customer"]["id"]) for m in ours]
    sends.append((other["tables"], msg["id"], theirs["id"]))
    query, params = recorder.batch_statement(
        [recorder._Sent(t, m, c, f"wamid.{m}") for t, m, c in sends]
    )
    assert len(params[0]) == 3 and query.as_string(conn).count("UPDATE") == 3  # 2 tables + sends
    await conn.execute("LISTEN wacrm_events")
    pool = create_pool(db_url, max_size=2, min_size=1)
    await pool.open(wait=True)
    try:
        rec = recorder.for_pool(pool)
        await asyncio.gather(*(rec.record(t, m, c, f"wamid.{t.agent_id}.{m}") for t, m, c in sends))
    finally:
        await pool.close()
    for t, m, _ in sends:
        row = await message_row(conn, t, m)
        assert (row["status"], row["wamid"]) == ("sent", f"wamid.{t.agent_id}.{m}")
        cur = await conn.execute(
            "SELECT state FROM outbound_sends WHERE agent_id = %s AND message_id = %s",
            (t.agent_id, m),
        )
        assert (await cur.fetchone())["state"] == "done"
    events = []
    async for note in conn.notifies(timeout=2.0, stop_after=3):
        events.append(orjson.loads(note.payload))
    assert sorted((e["agent_id"], e["message_id"]) for e in events) == sorted(
        (t.agent_id, m) for t, m, _ in sends
    )


async def test_sends_claimed_together_take_successive_slots_of_their_number(
    conn: Any, shop: dict[str, Any]
) -> None:
    tables = shop["tables"]
    customers = [await add_customer(conn, tables, f"49151777{i:04d}") for i in range(3)]
    mids = [await queued(conn, shop, c["id"]) for c in customers]
    rows = await claims.claim_due(
        conn, limit=10, holder="test", lease=timedelta(seconds=60), near=timedelta(0)
    )
    assert [r["message_id"] for r in rows] == mids
    tokens = [r["number_tokens"] for r in rows]
    assert tokens[0] == 0.0 and -1.01 < tokens[1] <= -0.99 and -2.01 < tokens[2] <= -1.99, tokens
    # each slot is dated from when it was taken, not from the answer of the whole claim
    assert all(0.0 <= r["number_taken_ago"] < 5.0 for r in rows), rows
    assert rows[0]["number_taken_ago"] >= rows[-1]["number_taken_ago"]
