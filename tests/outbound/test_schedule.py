"""Sends scheduled at enqueue: one number's broadcast holds back neither other numbers nor replies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.helpers import configure_sandbox_number, make_agent_user
from tests.outbound.conftest import add_customer, wait_until, worker
from wacrm.outbound import claim as claims
from wacrm.outbound import service
from wacrm.outbound.schemas import TextContent

OTHER_NUMBER = {
    "phone_number_id": "106540352249999",
    "display_phone_number": "15550002222",
    "waba_id": "102290129349999",
    "access_token": "sandbox-access-token-0002",
    "app_secret": "sandbox-app-secret-0002",
}


async def queue(
    conn: Any, owner: dict[str, Any], customer_id: int, body: str, *, bulk: bool = False
) -> int:
    msg = await service.queue_message(
        conn,
        tables=owner["tables"],
        agent_id=owner["agent"]["id"],
        customer_id=customer_id,
        content=TextContent(body=body),
        sent_by=None,
        bulk=bulk,
    )
    return int(msg["id"])


async def claim(conn: Any, limit: int = 10) -> list[int]:
    """Claim the due sends as a worker does; their message ids in claim order."""
    rows = await claims.claim_due(
        conn, limit=limit, holder="test", lease=timedelta(seconds=60), near=timedelta(0)
    )
    return [r["message_id"] for r in rows]


async def sends(conn: Any) -> dict[int, dict[str, Any]]:
    cur = await conn.execute(
        "SELECT message_id, state, due_at, bulk, claimed_by FROM outbound_sends"
    )
    return {r["message_id"]: r for r in await cur.fetchall()}


async def test_bulk_sends_wait_for_their_slots_and_replies_go_first(
    conn: Any, shop: dict[str, Any]
) -> None:
    await conn.execute("UPDATE whatsapp_configuration SET messages_per_second = 1")
    tables, sandbox = shop["tables"], shop["sandbox"]
    customers = [
        await add_customer(conn, tables, f"4915100000{i:03d}", sandbox=sandbox) for i in range(3)
    ]
    bulk = [await queue(conn, shop, c["id"], "offer", bulk=True) for c in customers]
    reply = await queue(conn, shop, shop["customer"]["id"], "your answer")
    state = await sends(conn)
    # every send waits in the schedule; the first bulk send is due now, the next ones about
    # 1 / 0.96 s apart
    assert {r["state"] for r in state.values()} == {"scheduled"}
    assert all(state[m]["bulk"] for m in bulk) and not state[reply]["bulk"]
    gap = (state[bulk[2]]["due_at"] - state[bulk[1]]["due_at"]).total_seconds()
    assert 0.9 < gap < 1.2, gap
    # a reply has its own schedule: due at once, and claimed before the due bulk send
    assert await claim(conn, limit=1) == [reply]
    assert await claim(conn) == [bulk[0]]
    assert await claim(conn) == []  # the others are not due yet
    await conn.execute(
        "UPDATE outbound_sends SET due_at = now() - interval '1 s' + (message_id % 10) * interval '1 ms'"
        " WHERE state = 'scheduled'"
    )
    assert await claim(conn) == bulk[1:]  # in slot order
    state = await sends(conn)
    assert {r["state"] for r in state.values()} == {"sending"}
    assert {r["claimed_by"] for r in state.values()} == {"test"}
    assert await claim(conn) == []


async def test_concurrent_claims_never_take_the_same_send(
    conn: Any, db_url: str, shop: dict[str, Any]
) -> None:
    """Two workers claiming at the same moment (SKIP LOCKED) share the due sends, each once."""
    import asyncio

    import psycopg
    from psycopg.rows import dict_row

    tables, sandbox = shop["tables"], shop["sandbox"]
    ids = []
    for i in range(40):
        customer = await add_customer(conn, tables, f"4915400000{i:03d}", sandbox=sandbox)
        ids.append(await queue(conn, shop, customer["id"], "offer", bulk=True))
    await conn.execute("UPDATE outbound_sends SET due_at = now() - interval '1 s'")

    async def worker_claims() -> list[int]:
        async with await psycopg.AsyncConnection.connect(
            db_url, autocommit=True, row_factory=dict_row
        ) as own:
            got: list[int] = []
            while batch := await claim(own, limit=3):
                got += batch
            return got

    first, second = await asyncio.gather(worker_claims(), worker_claims())
    assert sorted(first + second) == sorted(ids)


async def test_a_broadcast_does_not_hold_back_other_numbers_or_replies(
    conn: Any, db_url: str, shop: dict[str, Any]
) -> None:
    """A's broadcast (30 messages at 5/s, ~6 s) is queued first, then a reply on B and one on A.

    Before scheduling, the broadcast's jobs (older, same priority) filled the worker's four slots
    waiting for A's limiter, and both replies left after the whole broadcast.
    """
    rate, count = 5, 30
    sandbox = shop["sandbox"]
    sandbox.register_number(messages_per_second=rate)
    sandbox.register_number(**OTHER_NUMBER, messages_per_second=rate)
    other = await make_agent_user(conn, "other-seller@example.com")
    await configure_sandbox_number(
        conn, other["user_id"], OTHER_NUMBER, verify_token="verify-other"
    )
    await conn.execute("UPDATE whatsapp_configuration SET messages_per_second = %s", (rate,))
    tables = shop["tables"]
    broadcast = []
    for i in range(count):
        customer = await add_customer(conn, tables, f"4915200000{i:03d}", sandbox=sandbox)
        broadcast.append(await queue(conn, shop, customer["id"], f"offer {i}", bulk=True))
    b_customer = await add_customer(conn, other["tables"], "4915300000001")
    sandbox.open_window("4915300000001", phone_number_id=OTHER_NUMBER["phone_number_id"])
    reply_b = await queue(conn, other, b_customer["id"], "answer on B")
    reply_a = await queue(conn, shop, shop["customer"]["id"], "answer on A")

    async def sent_at(owner: dict[str, Any], ids: list[int]) -> list[Any]:
        cur = await conn.execute(
            owner["tables"].query(
                "SELECT status_at FROM {messages} WHERE id = ANY(%s) AND wamid IS NOT NULL"
            ),
            (ids,),
        )
        return [r["status_at"] for r in await cur.fetchall()]

    async with worker(db_url, concurrency=4):

        async def replies_out() -> bool:
            return len(await sent_at(shop, [reply_a])) + len(await sent_at(other, [reply_b])) == 2

        assert await wait_until(replies_out, timeout=60)
        a_at, b_at = (await sent_at(shop, [reply_a]))[0], (await sent_at(other, [reply_b]))[0]

        async def broadcast_out() -> bool:
            return len(await sent_at(shop, broadcast)) == count

        assert await wait_until(broadcast_out, timeout=90)
    broadcast_at = await sent_at(shop, broadcast)
    # B's reply did not wait for A's broadcast, and A's reply did not wait behind A's backlog:
    # at 5/s the broadcast takes ~6 s; most of it left after both replies
    assert sum(t > b_at for t in broadcast_at) >= count // 2
    assert sum(t > a_at for t in broadcast_at) >= count // 2
    # each accepted exactly once
    assert (await sandbox.asent_messages(shop["config"]["phone_number_id"]))["count"] == count + 1
    assert (await sandbox.asent_messages(OTHER_NUMBER["phone_number_id"]))["count"] == 1


async def test_a_retried_broadcast_message_stays_a_bulk_send(
    conn: Any, shop: dict[str, Any]
) -> None:
    tables = shop["tables"]
    offer = await queue(conn, shop, shop["customer"]["id"], "offer", bulk=True)
    answer = await queue(conn, shop, shop["customer"]["id"], "answer")
    await conn.execute(tables.query("UPDATE {messages} SET status = 'failed'"))
    for message_id in (offer, answer):
        await service.retry_message(conn, tables=tables, message_id=message_id)
    state = await sends(conn)
    assert state[offer]["bulk"] and not state[answer]["bulk"]
    assert {r["state"] for r in state.values()} == {"scheduled"}
