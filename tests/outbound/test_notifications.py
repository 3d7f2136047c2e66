"""Order status notifications and read receipts."""

from __future__ import annotations

from typing import Any

from tests.outbound.conftest import add_customer, wait_until, worker
from wacrm.outbound import notifications, service


async def _order(conn: Any, tables: Any, customer_id: int) -> int:
    cur = await conn.execute(
        tables.query("INSERT INTO {orders} (customer_id) VALUES (%s) RETURNING id"), (customer_id,)
    )
    return int((await cur.fetchone())["id"])


async def test_text_inside_window_template_outside_none_when_off(
    conn: Any, shop: dict[str, Any]
) -> None:
    tables, agent_id = shop["tables"], shop["agent"]["id"]
    inside = await _order(conn, tables, shop["customer"]["id"])
    old = await add_customer(conn, tables, "4915100000009", written_ago=30 * 3600)
    outside = await _order(conn, tables, old["id"])
    await conn.execute(  # the agent's own text (no page sets it yet: straight into its table)
        "INSERT INTO order_notification_settings (agent_id, text_template) VALUES (%s, %s)",
        (agent_id, "Order {order_id}: {status}!"),
    )
    m1 = await notifications.notify_order_status(
        conn, tables=tables, agent_id=agent_id, order_id=inside, status="shipped", actor_id=None
    )
    m2 = await notifications.notify_order_status(
        conn, tables=tables, agent_id=agent_id, order_id=outside, status="paid", actor_id=None
    )
    rows = {
        r["id"]: r
        for r in await (
            await conn.execute(tables.query("SELECT id, message, wa_type, payload FROM {messages}"))
        ).fetchall()
    }
    assert rows[m1]["message"] == f"Order {inside}: shipped!" and rows[m1]["wa_type"] == "text"
    assert rows[m2]["payload"] == {
        "type": "template",
        "name": "order_update",
        "language": "en_US",
        "body_params": [f"#{outside}", "paid"],
        "reply_to": None,
        "automatic": "order_status",  # an automation: shown so, no reply in the team's figures
    }
    assert rows[m1]["payload"]["automatic"] == "order_status"
    await conn.execute("UPDATE agents SET notify_order_status = false WHERE id = %s", (agent_id,))
    assert (
        await notifications.notify_order_status(
            conn, tables=tables, agent_id=agent_id, order_id=inside, status="x", actor_id=None
        )
        is None
    )


async def test_read_receipt_marks_locally_and_sends_one_receipt(
    conn: Any, db_url: str, shop: dict[str, Any]
) -> None:
    tables, customer = shop["tables"], shop["customer"]
    wamid = "wamid.newest"
    for i, w in enumerate(["wamid.older", wamid]):
        await conn.execute(
            tables.query(
                """INSERT INTO {messages} (customer_id, message, direction, wamid, "timestamp")
                   VALUES (%s, 'x', 'inbound', %s, now() - make_interval(secs => %s))"""
            ),
            (customer["id"], w, 10 - i),
        )
    marked = await service.queue_read_receipt(
        conn, tables=tables, agent_id=shop["agent"]["id"], customer_id=customer["id"]
    )
    assert marked == 2
    assert (
        await service.queue_read_receipt(
            conn, tables=tables, agent_id=shop["agent"]["id"], customer_id=customer["id"]
        )
        == 0
    )
    jobs = await (
        await conn.execute("SELECT convert_from(payload, 'UTF8')::jsonb AS p FROM pgqueuer")
    ).fetchall()
    assert [j["p"]["wamid"] for j in jobs] == [wamid]
    async with worker(db_url):
        assert await wait_until(lambda: _no_jobs(conn), timeout=10)


async def _no_jobs(conn: Any) -> bool:
    return (await (await conn.execute("SELECT count(*) AS n FROM pgqueuer")).fetchone())["n"] == 0
