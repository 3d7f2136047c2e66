"""Status workflow, history, notification call, and totals under concurrent edits."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.helpers import total_of
from wacrm.agents.tables import AgentTables
from wacrm.orders import service as orders
from wacrm.orders.errors import OrderError
from wacrm.orders.workflow import STATUSES, TRANSITIONS

PATH = ["confirmed", "processing", "shipped", "delivered"]


async def test_full_life_cycle_with_history(conn: Any, agent: dict[str, Any]) -> None:
    t = agent["tables"]
    await conn.execute("UPDATE agents SET notify_order_status = false WHERE id = %s", (t.agent_id,))
    o = await orders.create_order(
        conn, tables=t, customer_id=agent["customer_id"], created_by=agent["user_id"]
    )
    last = o["updated_at"]
    for status in PATH:
        o = await orders.change_status(
            conn,
            tables=t,
            order_id=o["id"],
            status=status,
            actor_id=agent["user_id"],
            note=f"to {status}",
        )
        assert o["status"] == status
        assert o["updated_at"] > last
        last = o["updated_at"]
    moves = [(h["from_status"], h["to_status"], h["changed_by"], h["note"]) for h in o["history"]]
    assert moves == [(None, "pending", agent["user_id"], "created")] + [
        (a, b, agent["user_id"], f"to {b}") for a, b in zip(["pending", *PATH], PATH, strict=False)
    ]
    assert all(h["changed_at"] is not None for h in o["history"])
    assert o["allowed_transitions"] == []


@pytest.mark.parametrize("start", STATUSES)
async def test_every_refused_transition_is_409_and_changes_nothing(
    conn: Any, agent: dict[str, Any], start: str
) -> None:
    t = agent["tables"]
    await conn.execute("UPDATE agents SET notify_order_status = false WHERE id = %s", (t.agent_id,))
    o = await orders.create_order(conn, tables=t, customer_id=agent["customer_id"])
    route = (
        []
        if start == "pending"
        else (["cancelled"] if start == "cancelled" else PATH[: PATH.index(start) + 1])
    )
    for s in route:
        await orders.change_status(conn, tables=t, order_id=o["id"], status=s, actor_id=None)
    before = await orders.get_order(conn, tables=t, order_id=o["id"])
    for target in STATUSES:
        if target in TRANSITIONS[start]:
            continue
        with pytest.raises(OrderError) as err:
            await orders.change_status(
                conn, tables=t, order_id=o["id"], status=target, actor_id=None
            )
        assert err.value.status == 409
        assert f"cannot go from {start} to {target}" in err.value.message
        assert "allowed from" in err.value.message
    with pytest.raises(OrderError, match="unknown status") as err:
        await orders.change_status(conn, tables=t, order_id=o["id"], status="lost", actor_id=None)
    assert err.value.status == 422
    after = await orders.get_order(conn, tables=t, order_id=o["id"])
    assert after == before


async def test_cancel_from_each_state_before_delivered(conn: Any, agent: dict[str, Any]) -> None:
    t = agent["tables"]
    await conn.execute("UPDATE agents SET notify_order_status = false WHERE id = %s", (t.agent_id,))
    for depth in range(4):
        o = await orders.create_order(conn, tables=t, customer_id=agent["customer_id"])
        for s in PATH[:depth]:
            await orders.change_status(conn, tables=t, order_id=o["id"], status=s, actor_id=None)
        o = await orders.change_status(
            conn, tables=t, order_id=o["id"], status="cancelled", actor_id=None
        )
        assert o["status"] == "cancelled"


async def test_items_frozen_after_shipping(conn: Any, agent: dict[str, Any]) -> None:
    t = agent["tables"]
    await conn.execute("UPDATE agents SET notify_order_status = false WHERE id = %s", (t.agent_id,))
    o = await orders.create_order(
        conn, tables=t, customer_id=agent["customer_id"], items=[{"name": "A", "price": "1"}]
    )
    for s in PATH[:3]:
        await orders.change_status(conn, tables=t, order_id=o["id"], status=s, actor_id=None)
    with pytest.raises(OrderError, match="cannot be changed") as err:
        await orders.add_item(conn, tables=t, order_id=o["id"], name="B", price="2")
    assert err.value.status == 409
    with pytest.raises(OrderError, match="cannot be changed"):
        await orders.remove_item(conn, tables=t, order_id=o["id"], item_id=o["items"][0]["id"])


@pytest.fixture
def fake_outbound(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record the calls to wacrm.outbound.notifications.notify_order_status (the real one is
    exercised by test_notification_queues_a_message)."""
    from wacrm.outbound import notifications

    calls: list[dict[str, Any]] = []

    async def notify_order_status(conn: Any, **kw: Any) -> int:
        cur = await conn.execute("SELECT txid_current_if_assigned() AS x")
        kw["txid"] = (await cur.fetchone())["x"]
        calls.append(kw)
        return 7

    monkeypatch.setattr(notifications, "notify_order_status", notify_order_status)
    return calls


async def test_notification_called_in_the_same_transaction(
    conn: Any, agent: dict[str, Any], fake_outbound: list[dict[str, Any]]
) -> None:
    t = agent["tables"]
    o = await orders.create_order(conn, tables=t, customer_id=agent["customer_id"])
    for s in PATH:
        await orders.change_status(
            conn, tables=t, order_id=o["id"], status=s, actor_id=agent["user_id"]
        )
    assert [c["status"] for c in fake_outbound] == ["confirmed", "shipped", "delivered"]
    assert all(
        c["order_id"] == o["id"]
        and c["agent_id"] == t.agent_id
        and c["tables"] == t
        and c["actor_id"] == agent["user_id"]
        for c in fake_outbound
    )
    assert all(
        c["txid"] is not None for c in fake_outbound
    )  # inside the status change's transaction
    await conn.execute("UPDATE agents SET notify_order_status = false WHERE id = %s", (t.agent_id,))
    o = await orders.create_order(conn, tables=t, customer_id=agent["customer_id"])
    await orders.change_status(conn, tables=t, order_id=o["id"], status="cancelled", actor_id=None)
    assert len(fake_outbound) == 3


async def _edit_loop(url: str, tables: AgentTables, order_id: int, seed: int, n: int) -> None:
    rnd = random.Random(seed)
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as c:
        mine: list[int] = []
        for _ in range(n):
            if mine and rnd.random() < 0.35:
                item = mine.pop(rnd.randrange(len(mine)))
                await orders.remove_item(c, tables=tables, order_id=order_id, item_id=item)
            elif mine and rnd.random() < 0.3:
                await orders.update_item(
                    c,
                    tables=tables,
                    order_id=order_id,
                    item_id=rnd.choice(mine),
                    quantity=rnd.randint(1, 9),
                )
            else:
                o = await orders.add_item(
                    c,
                    tables=tables,
                    order_id=order_id,
                    name=f"p{seed}",
                    quantity=rnd.randint(1, 5),
                    price=f"{rnd.randint(0, 9999) / 100:.2f}",
                )
                mine.append(max(i["id"] for i in o["items"] if i["name"] == f"p{seed}"))


async def _raw_sql_loop(url: str, tables: AgentTables, order_id: int, n: int) -> None:
    """A writer that bypasses the service (as the inbound code may): only the trigger protects it."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as c:
        for k in range(n):
            async with c.transaction():
                await c.execute(
                    tables.query(
                        "INSERT INTO {orders_items} (order_id, name, quantity, price) VALUES (%s, 'raw', %s, 1.11)"
                    ),
                    (order_id, k % 4 + 1),
                )
                await c.execute(
                    "SELECT pg_sleep(0.003)"
                )  # widen the window for a concurrent writer
                if k % 3 == 0:
                    await c.execute(
                        tables.query(
                            "DELETE FROM {orders_items} WHERE id = (SELECT min(id) FROM {orders_items}"
                            " WHERE order_id = %s AND name = 'raw')"
                        ),
                        (order_id,),
                    )


async def test_concurrent_edits_keep_total(conn: Any, db_url: str, agent: dict[str, Any]) -> None:
    t = agent["tables"]
    o = await orders.create_order(conn, tables=t, customer_id=agent["customer_id"])
    await asyncio.gather(
        *(_edit_loop(db_url, t, o["id"], seed, 25) for seed in range(5)),
        _raw_sql_loop(db_url, t, o["id"], 25),
    )
    got = await orders.get_order(conn, tables=t, order_id=o["id"])
    assert len(got["items"]) > 10
    assert got["total_amount"] == total_of(got["items"])
    cur = await conn.execute(
        t.query("SELECT sum(quantity * price) AS s FROM {orders_items} WHERE order_id = %s"),
        (o["id"],),
    )
    assert got["total_amount"] == (await cur.fetchone())["s"] > Decimal(0)


async def test_blocked_writer_sees_the_first_writers_item(
    conn: Any, db_url: str, agent: dict[str, Any]
) -> None:
    """Writer B inserts while A's transaction holds the order; after A commits, B's total includes
    A's item (a total computed from B's statement snapshot would miss it: 2 instead of 3)."""
    t = agent["tables"]
    o = await orders.create_order(conn, tables=t, customer_id=agent["customer_id"])
    insert = t.query("INSERT INTO {orders_items} (order_id, name, price) VALUES (%s, %s, %s)")
    async with (
        await psycopg.AsyncConnection.connect(db_url) as a,
        await psycopg.AsyncConnection.connect(db_url) as b,
    ):
        await a.execute(insert, (o["id"], "a", 1))
        blocked = asyncio.create_task(b.execute(insert, (o["id"], "b", 2)))
        await asyncio.sleep(0.3)
        assert not blocked.done()  # B waits for A's lock on the order
        await a.commit()
        await blocked
        await b.commit()
    got = await orders.get_order(conn, tables=t, order_id=o["id"])
    assert got["total_amount"] == Decimal(3) == total_of(got["items"])


async def test_notification_queues_a_message(conn: Any, agent: dict[str, Any]) -> None:
    """With the real outbound code: a status change queues the customer's WhatsApp message in the
    same transaction; a refused change queues nothing."""
    t = agent["tables"]
    await conn.execute(
        t.query("UPDATE {customers} SET last_inbound_at = now() WHERE id = %s"),
        (agent["customer_id"],),
    )
    o = await orders.create_order(conn, tables=t, customer_id=agent["customer_id"])
    await orders.change_status(
        conn, tables=t, order_id=o["id"], status="confirmed", actor_id=agent["user_id"]
    )
    await orders.change_status(
        conn, tables=t, order_id=o["id"], status="processing", actor_id=agent["user_id"]
    )
    with pytest.raises(OrderError):
        await orders.change_status(
            conn, tables=t, order_id=o["id"], status="delivered", actor_id=None
        )
    cur = await conn.execute(
        t.query(
            "SELECT message, direction, status, sent_by FROM {messages} WHERE direction = 'outbound' ORDER BY id"
        )
    )
    rows = await cur.fetchall()
    # the workspace's default text for 'confirmed' (docs/orders.md), variables filled in
    assert [(r["message"], r["status"], r["sent_by"]) for r in rows] == [
        (
            f"Hello Ann Buyer, your order #{o['id']} is confirmed. Total: $0.00.",
            "queued",
            agent["user_id"],
        )
    ]


async def test_failed_notification_keeps_the_status_change(
    conn: Any, agent: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notification that cannot be queued is rolled back to its savepoint and logged; the
    status change and its history stay."""
    from wacrm.outbound import notifications

    t = agent["tables"]

    async def broken(conn: Any, **kw: Any) -> int:
        await conn.execute(
            t.query(
                "INSERT INTO {messages} (customer_id, message, direction) VALUES (%s, 'half', 'outbound')"
            ),
            (agent["customer_id"],),
        )
        raise RuntimeError("WhatsApp number not configured")

    monkeypatch.setattr(notifications, "notify_order_status", broken)
    o = await orders.create_order(conn, tables=t, customer_id=agent["customer_id"])
    o = await orders.change_status(
        conn, tables=t, order_id=o["id"], status="confirmed", actor_id=None
    )
    assert o["status"] == "confirmed" and o["history"][-1]["to_status"] == "confirmed"
    cur = await conn.execute(t.query("SELECT count(*) AS n FROM {messages}"))
    assert (await cur.fetchone())["n"] == 0
